namespace WalrusGossip.Raft;

/// <summary>Message intake: sender and term checks common to all roles (paper Figure 2, "Rules for Servers"), then dispatch by role.</summary>
public sealed partial class RaftNode
{
    /// <summary>
    /// Feeds one message received from a peer. Messages not addressed to this node, from id 0 or from itself,
    /// of unknown type, with stale terms, from unknown members (where membership matters) or with malformed
    /// contents are ignored or rejected as the protocol says. Never throws for bad input.
    /// </summary>
    /// <param name="message">The received message.</param>
    /// <exception cref="RaftInvariantViolationException">An internal invariant broke while handling a well-formed message.</exception>
    public void Step(RaftMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var m = message;
        if (m.To != Id || m.From == 0 || m.From == Id || !Enum.IsDefined(m.Type)
            || m.Type is RaftMessageType.SnapshotChunk or RaftMessageType.SnapshotChunkResponse or RaftMessageType.Removed
                or RaftMessageType.RepairRequest or RaftMessageType.RepairResponse
                or RaftMessageType.HashRequest or RaftMessageType.HashResponse)
        {
            return;
        }

        if (m.Term > _term)
        {
            if (!AcceptHigherTerm(m))
            {
                return;
            }
        }
        else if (m.Term < _term)
        {
            AnswerStaleTerm(m);
            return;
        }

        switch (m.Type)
        {
            case RaftMessageType.Vote:
            case RaftMessageType.PreVote:
                HandleVoteRequest(m);
                return;
            case RaftMessageType.VoteResponse:
            case RaftMessageType.PreVoteResponse:
                if (_role is RaftRole.Candidate or RaftRole.PreCandidate)
                {
                    HandleVoteResponse(m);
                }

                return;
        }

        switch (_role)
        {
            case RaftRole.Leader:
                StepLeader(m);
                break;
            case RaftRole.Candidate:
            case RaftRole.PreCandidate:
                if (m.Type is RaftMessageType.Append or RaftMessageType.Heartbeat or RaftMessageType.InstallSnapshot)
                {
                    BecomeFollower(m.Term, m.From);
                    StepFollower(m);
                }

                break;
            default:
                StepFollower(m);
                break;
        }
    }

    /// <summary>Handles a message from a higher term; returns false when the message is to be ignored.</summary>
    private bool AcceptHigherTerm(RaftMessage m)
    {
        if (m.Type is RaftMessageType.Vote or RaftMessageType.PreVote)
        {
            // Leader lease (dissertation §4.2.3, §9.6): a node that heard from a leader within the minimum
            // election timeout ignores vote requests, unless the campaign follows a leadership transfer.
            var inLease = _lead != 0 && _electionElapsed < _options.ElectionTicks
                && (_options.CheckQuorum || m.Type == RaftMessageType.PreVote);
            if (inLease && !m.Transfer)
            {
                return false;
            }
        }

        if (m.Type == RaftMessageType.PreVote || (m.Type == RaftMessageType.PreVoteResponse && !m.Reject))
        {
            // A pre-vote never changes the receiver's term; a granted pre-vote answer carries the future term.
            return true;
        }

        var lead = m.Type is RaftMessageType.Append or RaftMessageType.Heartbeat or RaftMessageType.InstallSnapshot ? m.From : 0;
        BecomeFollower(m.Term, lead);
        return true;
    }

    private void AnswerStaleTerm(RaftMessage m)
    {
        if ((_options.CheckQuorum || _options.PreVote) && m.Type is RaftMessageType.Append or RaftMessageType.Heartbeat)
        {
            // Tell a deposed leader about the newer term so it steps down; with PreVote or CheckQuorum it
            // might otherwise never learn it (its followers ignore it, and no one raises the term).
            Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term });
        }
        else if (m.Type == RaftMessageType.PreVote)
        {
            Send(new RaftMessage { Type = RaftMessageType.PreVoteResponse, From = Id, To = m.From, Term = _term, Reject = true });
        }
    }

    private void StepFollower(RaftMessage m)
    {
        // One leader per term (paper §5.2): once this term's leader is known, nobody else speaks for it.
        if (_lead != 0 && m.From != _lead && m.Type is RaftMessageType.Append or RaftMessageType.Heartbeat
                or RaftMessageType.InstallSnapshot or RaftMessageType.TimeoutNow or RaftMessageType.ReadIndexResponse)
        {
            return;
        }

        switch (m.Type)
        {
            case RaftMessageType.Append:
                _electionElapsed = 0;
                _lead = m.From;
                HandleAppend(m);
                break;
            case RaftMessageType.Heartbeat:
                _electionElapsed = 0;
                _lead = m.From;
                HandleHeartbeat(m);
                break;
            case RaftMessageType.InstallSnapshot:
                _electionElapsed = 0;
                _lead = m.From;
                HandleSnapshot(m);
                break;
            case RaftMessageType.TimeoutNow:
                if (m.From == _lead)
                {
                    Hup(transfer: true);
                }

                break;
            case RaftMessageType.ReadIndexResponse:
                if (!m.Context.IsEmpty)
                {
                    _readStates.Add(new ReadState(m.Index, m.Context));
                }

                break;
            default:
                break;
        }
    }

    private void StepLeader(RaftMessage m)
    {
        switch (m.Type)
        {
            case RaftMessageType.AppendResponse:
                if (_progress.TryGetValue(m.From, out var progress))
                {
                    HandleAppendResponse(m, progress);
                }

                break;
            case RaftMessageType.HeartbeatResponse:
                if (_progress.TryGetValue(m.From, out var heartbeatProgress))
                {
                    HandleHeartbeatResponse(m, heartbeatProgress);
                }

                break;
            case RaftMessageType.ReadIndex:
                if (_progress.ContainsKey(m.From) && !m.Context.IsEmpty)
                {
                    LeaderReadIndex(m.From, m.Context);
                }

                break;
            default:
                break;
        }
    }
}
