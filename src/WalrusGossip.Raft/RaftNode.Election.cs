namespace WalrusGossip.Raft;

/// <summary>Leader election (paper §5.2), PreVote (dissertation §9.6), CheckQuorum and role transitions.</summary>
public sealed partial class RaftNode
{
    private enum VoteOutcome
    {
        Pending,
        Won,
        Lost,
    }

    /// <summary>
    /// Failure-detector hint for a follower: its connection from <paramref name="peer"/> broke, and when that peer is
    /// the leader it has probably crashed (a killed process's sockets are reset at once). The follower's leader lease
    /// ends now, so it grants PreVotes, and its election timeout is brought forward to 1 + rank × max(1, ElectionTicks / 5)
    /// ticks from now, where rank is the number of other surviving voters with a lower id. Every follower gets the
    /// hint at about the same moment, so random timeouts would often collide into a split vote; ranked delays let the
    /// lowest-id survivor campaign first while the others, their leases over, grant it their votes, and the next in
    /// rank takes over if it cannot win. Safety never depends on it (elections stay PreVote-gated, §9.6); a wrong hint
    /// costs at most one rejected PreVote, because a live leader's next heartbeat resets the timer.
    /// </summary>
    /// <param name="peer">The member whose connection broke; ignored unless it is this follower's leader.</param>
    public void SuspectLeader(ulong peer)
    {
        if (_role != RaftRole.Follower || peer == 0 || peer != _lead || !Promotable)
        {
            return;
        }

        var rank = 0;
        foreach (var voter in _config.Voters)
        {
            if (voter != peer && voter < Id)
            {
                rank++;
            }
        }

        _electionElapsed = Math.Max(_electionElapsed, _options.ElectionTicks);
        _randomizedElectionTimeout = _electionElapsed + 1 + (rank * Math.Max(1, _options.ElectionTicks / 5));
    }

    private void TickElection()
    {
        if (_electionElapsed < int.MaxValue)
        {
            _electionElapsed++;
        }

        if (Promotable && _electionElapsed >= _randomizedElectionTimeout)
        {
            _electionElapsed = 0;
            Hup(transfer: false);
        }
    }

    private void TickLeader()
    {
        _heartbeatElapsed++;
        _electionElapsed++;
        if (_electionElapsed >= _options.ElectionTicks)
        {
            _electionElapsed = 0;
            if (_options.CheckQuorum)
            {
                if (!QuorumActive())
                {
                    BecomeFollower(_term, 0);
                    return;
                }

                foreach (var (id, progress) in _progress)
                {
                    progress.RecentActive = id == Id;
                }
            }

            _leadTransferee = 0;
        }

        if (_heartbeatElapsed >= _options.HeartbeatTicks)
        {
            _heartbeatElapsed = 0;
            BroadcastHeartbeat(_reads.LastContext);
        }
    }

    /// <summary>True when a quorum of voters (this node included) was heard from during the last election timeout.</summary>
    private bool QuorumActive()
    {
        var active = 0;
        foreach (var voter in _config.Voters)
        {
            if (voter == Id || (_progress.TryGetValue(voter, out var progress) && progress.RecentActive))
            {
                active++;
            }
        }

        return active >= _config.Quorum;
    }

    private void Hup(bool transfer)
    {
        if (_role == RaftRole.Leader || !Promotable)
        {
            return;
        }

        Campaign(preVote: _options.PreVote && !transfer, transfer);
    }

    private void Campaign(bool preVote, bool transfer)
    {
        ulong term;
        RaftMessageType type;
        if (preVote)
        {
            BecomePreCandidate();
            type = RaftMessageType.PreVote;
            term = _term + 1;
        }
        else
        {
            BecomeCandidate();
            type = RaftMessageType.Vote;
            term = _term;
        }

        if (Poll(Id, granted: true) == VoteOutcome.Won)
        {
            if (preVote)
            {
                Campaign(preVote: false, transfer);
            }
            else
            {
                BecomeLeader();
            }

            return;
        }

        var lastIndex = _log.LastIndex;
        var lastTerm = _log.LastTerm;
        foreach (var voter in _config.Voters)
        {
            if (voter != Id)
            {
                Send(new RaftMessage { Type = type, From = Id, To = voter, Term = term, Index = lastIndex, LogTerm = lastTerm, Transfer = transfer });
            }
        }
    }

    private VoteOutcome Poll(ulong from, bool granted)
    {
        _votes.TryAdd(from, granted);
        int yes = 0, no = 0;
        foreach (var voter in _config.Voters)
        {
            if (_votes.TryGetValue(voter, out var vote))
            {
                if (vote)
                {
                    yes++;
                }
                else
                {
                    no++;
                }
            }
        }

        if (yes >= _config.Quorum)
        {
            return VoteOutcome.Won;
        }

        return no > _config.Voters.Count - _config.Quorum ? VoteOutcome.Lost : VoteOutcome.Pending;
    }

    /// <summary>Answers a Vote or PreVote request whose term is not stale (paper §5.2, §5.4.1; dissertation §9.6).</summary>
    private void HandleVoteRequest(RaftMessage m)
    {
        var responseType = m.Type == RaftMessageType.Vote ? RaftMessageType.VoteResponse : RaftMessageType.PreVoteResponse;
        var canVote = (_vote == m.From
            || (_vote == 0 && _lead == 0)
            || (m.Type == RaftMessageType.PreVote && m.Term > _term)
            || _options.InjectedBugs.Contains("double-vote")); // an abstaining node votes too: see SetAbstaining
        if (canVote && _log.IsUpToDate(m.Index, m.LogTerm))
        {
            Send(new RaftMessage { Type = responseType, From = Id, To = m.From, Term = m.Term });
            if (m.Type == RaftMessageType.Vote)
            {
                _electionElapsed = 0;
                _vote = m.From;
            }
        }
        else
        {
            Send(new RaftMessage { Type = responseType, From = Id, To = m.From, Term = _term, Reject = true });
        }
    }

    private void HandleVoteResponse(RaftMessage m)
    {
        var expected = _role == RaftRole.PreCandidate ? RaftMessageType.PreVoteResponse : RaftMessageType.VoteResponse;
        if (m.Type != expected || !_config.IsVoter(m.From))
        {
            return;
        }

        switch (Poll(m.From, !m.Reject))
        {
            case VoteOutcome.Won:
                if (_role == RaftRole.PreCandidate)
                {
                    Campaign(preVote: false, transfer: false);
                }
                else
                {
                    BecomeLeader();
                }

                break;
            case VoteOutcome.Lost:
                BecomeFollower(_term, 0);
                break;
            case VoteOutcome.Pending:
                break;
        }
    }

    private void BecomeFollower(ulong term, ulong lead)
    {
        Reset(term);
        _lead = lead;
        _role = RaftRole.Follower;
    }

    private void BecomePreCandidate()
    {
        RaftInvariantViolationException.Check(_role != RaftRole.Leader, "a leader cannot become a pre-candidate");
        _votes.Clear();
        _lead = 0;
        _role = RaftRole.PreCandidate;
    }

    private void BecomeCandidate()
    {
        RaftInvariantViolationException.Check(_role != RaftRole.Leader, "a leader cannot become a candidate");
        Reset(_term + 1);
        _vote = Id;
        _role = RaftRole.Candidate;
    }

    private void BecomeLeader()
    {
        RaftInvariantViolationException.Check(_role == RaftRole.Candidate, "only a candidate can become leader");
        Reset(_term);
        _lead = Id;
        _role = RaftRole.Leader;
        ResetProgress();
        AppendAsLeader([new LogEntry(_log.LastIndex + 1, _term, EntryType.NoOp, ReadOnlyMemory<byte>.Empty)]);
        _uncommittedBytes = 0;
    }

    private void Reset(ulong term)
    {
        if (_term != term)
        {
            _term = term;
            _vote = 0;
        }

        _lead = 0;
        _electionElapsed = 0;
        _heartbeatElapsed = 0;
        _randomizedElectionTimeout = _options.ElectionTicks + _random.Next(_options.ElectionTicks);
        _leadTransferee = 0;
        _votes.Clear();
        _progress.Clear();
        _reads.Reset();
        _uncommittedBytes = 0;
        _broadcastPending = false;
    }

    private void ResetProgress()
    {
        _progress.Clear();
        AddProgress(_config.Voters, isLearner: false);
        AddProgress(_config.Learners, isLearner: true);
    }

    private void AddProgress(IReadOnlyList<ulong> ids, bool isLearner)
    {
        foreach (var id in ids)
        {
            if (_progress.TryGetValue(id, out var existing))
            {
                existing.IsLearner = isLearner;
                continue;
            }

            var progress = new Progress(_log.LastIndex + 1, _options.MaxInflightMessages, _options.MaxInflightBytes, isLearner);
            if (id == Id)
            {
                progress.Match = _log.LastStableIndex;
                progress.RecentActive = true;
            }

            _progress[id] = progress;
        }
    }

    private void SendTimeoutNow(ulong to) =>
        Send(new RaftMessage { Type = RaftMessageType.TimeoutNow, From = Id, To = to, Term = _term });
}
