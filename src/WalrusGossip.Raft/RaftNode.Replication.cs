namespace WalrusGossip.Raft;

/// <summary>Log replication (paper §5.3): pipelined AppendEntries with flow control, fast backtracking and the commit rule.</summary>
public sealed partial class RaftNode
{
    // While BroadcastAppend runs, the last slice it took for a follower: followers at the same next index get the same
    // (immutable) entry list instead of a copy each. Nothing changes the log or its storage during a broadcast, so the
    // shared list holds exactly what Slice would return again.
    private bool _broadcasting;
    private ulong _sharedLow;
    private ulong _sharedHigh;
    private IReadOnlyList<LogEntry>? _sharedSlice;

    private void BroadcastAppend()
    {
        _broadcasting = true;
        try
        {
            foreach (var id in _progress.Keys)
            {
                if (id != Id && SendAppend(id, sendIfEmpty: true))
                {
                    // Fill the pipeline up to the follower's in-flight limits.
                    while (SendAppend(id, sendIfEmpty: false))
                    {
                    }
                }
            }
        }
        finally
        {
            _broadcasting = false;
            _sharedSlice = null;
        }
    }

    /// <summary><see cref="RaftLog.Slice"/> for an AppendEntries, shared between the followers of one broadcast.</summary>
    private IReadOnlyList<LogEntry>? SliceForAppend(ulong low, ulong high)
    {
        if (_broadcasting && _sharedSlice is not null && _sharedLow == low && _sharedHigh == high)
        {
            return _sharedSlice;
        }

        var entries = _log.Slice(low, high, _options.MaxAppendBytes);
        if (_broadcasting && entries is { Count: > 0 })
        {
            (_sharedLow, _sharedHigh, _sharedSlice) = (low, high, entries);
        }

        return entries;
    }

    private void BroadcastHeartbeat(ReadOnlyMemory<byte> context)
    {
        foreach (var (id, progress) in _progress)
        {
            if (id != Id)
            {
                // Never announce a commit index beyond what this follower is known to hold (it may have a divergent suffix).
                var commit = Math.Min(progress.Match, _log.Committed);
                Send(new RaftMessage { Type = RaftMessageType.Heartbeat, From = Id, To = id, Term = _term, Commit = commit, Context = context });
            }
        }
    }

    /// <summary>Sends the next AppendEntries (or a snapshot) to <paramref name="to"/> if flow control allows; returns whether a message was sent.</summary>
    private bool SendAppend(ulong to, bool sendIfEmpty)
    {
        var progress = _progress[to];
        if (progress.IsPaused)
        {
            return false;
        }

        var prevIndex = progress.Next - 1;
        if (!_log.TryTerm(prevIndex, out var prevTerm))
        {
            return SendSnapshot(to, progress);
        }

        var entries = SliceForAppend(progress.Next, _log.LastIndex + 1);
        if (entries is null)
        {
            return SendSnapshot(to, progress);
        }

        if (entries.Count == 0 && !sendIfEmpty)
        {
            return false;
        }

        ulong bytes = 0;
        for (var i = 0; i < entries.Count; i++)
        {
            bytes += entries[i].SizeBytes;
        }

        Send(new RaftMessage
        {
            Type = RaftMessageType.Append,
            From = Id,
            To = to,
            Term = _term,
            Index = prevIndex,
            LogTerm = prevTerm,
            Entries = entries,
            Commit = _log.Committed,
        });
        progress.OnEntriesSent(entries.Count, entries.Count == 0 ? prevIndex : entries[^1].Index, bytes);
        return true;
    }

    private void SendEmptyAppend(ulong to, Progress progress)
    {
        var prevIndex = progress.Next - 1;
        if (_log.TryTerm(prevIndex, out var prevTerm))
        {
            Send(new RaftMessage { Type = RaftMessageType.Append, From = Id, To = to, Term = _term, Index = prevIndex, LogTerm = prevTerm, Commit = Math.Min(_log.Committed, progress.Match) });
        }
        else
        {
            // The pipeline's end was compacted meanwhile: restart from the match index, by snapshot if need be.
            progress.BecomeProbe();
            SendAppend(to, sendIfEmpty: true);
        }
    }

    /// <summary>Sends InstallSnapshot (paper §7) to a follower whose next entry was compacted away.</summary>
    private bool SendSnapshot(ulong to, Progress progress)
    {
        if (!progress.RecentActive)
        {
            return false;
        }

        var snapshot = _storage.GetSnapshot();
        RaftInvariantViolationException.Check(!snapshot.IsEmpty, $"entry {progress.Next - 1} for {to} is compacted but storage has no snapshot");
        Send(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = Id, To = to, Term = _term, Snapshot = snapshot });
        progress.BecomeSnapshot(snapshot.Metadata.Index);
        return true;
    }

    private void HandleAppendResponse(RaftMessage m, Progress progress)
    {
        progress.RecentActive = true;
        if (m.Reject)
        {
            if (m.RejectHint == 0 && progress.Match > 0)
            {
                // The follower answers with an empty log although it acknowledged entries up to Match: it lost its
                // data (a wiped or replaced disk). Without forgetting Match the leader would probe at Match + 1 forever;
                // start it over from index 1, so it is caught up from the log or, once compacted, by snapshot.
                progress.ForgetMatch();
                SendAppend(m.From, sendIfEmpty: true);
                return;
            }

            // Fast backtracking: skip every entry of the follower's conflicting term at once.
            var hint = m.RejectHint;
            if (m.LogTerm > 0)
            {
                hint = _log.FindConflictByTerm(Math.Min(m.RejectHint, _log.LastIndex), m.LogTerm);
            }

            if (progress.MaybeDecreaseTo(m.Index, hint))
            {
                if (progress.State == ReplicationState.Replicate)
                {
                    progress.BecomeProbe();
                }

                SendAppend(m.From, sendIfEmpty: true);
            }

            return;
        }

        if (m.Index > _log.LastIndex)
        {
            return;
        }

        var wasPaused = progress.IsPaused;
        if (!progress.MaybeUpdate(m.Index) && !(progress.Match == m.Index && progress.State == ReplicationState.Probe))
        {
            return;
        }

        switch (progress.State)
        {
            case ReplicationState.Probe:
                progress.BecomeReplicate();
                break;
            case ReplicationState.Snapshot when progress.Match + 1 >= _log.FirstIndex:
                progress.BecomeProbe();
                progress.BecomeReplicate();
                break;
            case ReplicationState.Replicate:
                progress.Inflights.FreeLE(m.Index);
                break;
            default:
                break;
        }

        if (MaybeCommit())
        {
            if (_role != RaftRole.Leader)
            {
                return;
            }

            BroadcastAppend();
        }
        else if (wasPaused)
        {
            SendAppend(m.From, sendIfEmpty: true);
        }

        while (SendAppend(m.From, sendIfEmpty: false))
        {
        }

        if (m.From == _leadTransferee && progress.Match == _log.LastIndex)
        {
            SendTimeoutNow(m.From);
        }
    }

    private void HandleHeartbeatResponse(RaftMessage m, Progress progress)
    {
        progress.RecentActive = true;
        progress.ProbeSent = false;
        if (progress.State == ReplicationState.Replicate && progress.Inflights.Full && progress.Match < _log.LastIndex)
        {
            // Every in-flight append may have been lost: an empty append at the pipeline's end makes the
            // follower either acknowledge it or reject it, which drops replication back to probing.
            SendEmptyAppend(m.From, progress);
        }
        else if (progress.Match < _log.LastIndex || progress.State == ReplicationState.Probe)
        {
            SendAppend(m.From, sendIfEmpty: true);
        }

        if (_options.ReadConsistency != ReadConsistency.ReadIndex || m.Context.IsEmpty)
        {
            return;
        }

        var released = _reads.Acknowledge(m.From, m.Context.Span, _config);
        if (released is null)
        {
            return;
        }

        foreach (var read in released)
        {
            ReleaseRead(read.From, read.Index, read.Context);
        }
    }

    /// <summary>Commit rule (paper §5.4.2, Figure 8): the quorum-replicated index commits only if its entry is of the current term.</summary>
    private bool MaybeCommit()
    {
        var voters = _config.Voters;
        if (voters.Count == 0)
        {
            return false;
        }

        if (_matchBuffer.Length != voters.Count)
        {
            _matchBuffer = new ulong[voters.Count];
        }

        for (var i = 0; i < voters.Count; i++)
        {
            _matchBuffer[i] = _progress.TryGetValue(voters[i], out var progress) ? progress.Match : 0;
        }

        Array.Sort(_matchBuffer);
        var quorumMatch = _matchBuffer[voters.Count - _config.Quorum];
        if (!_log.MaybeCommit(quorumMatch, _term))
        {
            return false;
        }

        OnCommitAdvanced();
        return true;
    }

    /// <summary>AppendEntries receiver (paper Figure 2); rejections carry the conflict hint for fast backtracking.</summary>
    private void HandleAppend(RaftMessage m)
    {
        if (!IsWellFormedAppend(m))
        {
            return;
        }

        if (m.Index < _log.Committed)
        {
            Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term, Index = _log.Committed });
            return;
        }

        if (_log.WouldTruncateAbove(m.Index, m.LogTerm, m.Entries, _storage.FirstDamagedIndex))
        {
            // Protocol-aware repair: the conflicting suffix is cut only once the damaged entries below it are repaired
            // (they match the leader's, so its peers can serve them). Until then the append is dropped like a lost
            // message; the leader sends it again (walrus-sim seeds 175, 183: the cut reopened a damaged segment).
            return;
        }

        var lastNew = _log.MaybeAppend(m.Index, m.LogTerm, m.Commit, m.Entries, out var firstChanged);
        if (lastNew is ulong last)
        {
            if (firstChanged != 0)
            {
                OnLogReplaced(firstChanged, m.Entries, (int)(firstChanged - m.Index - 1));
            }

            OnCommitAdvanced();
            Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term, Index = last });
            return;
        }

        var hintIndex = _log.FindConflictByTerm(Math.Min(m.Index, _log.LastIndex), m.LogTerm);
        Send(new RaftMessage
        {
            Type = RaftMessageType.AppendResponse,
            From = Id,
            To = m.From,
            Term = _term,
            Index = m.Index,
            Reject = true,
            RejectHint = hintIndex,
            LogTerm = _log.TermOrZero(hintIndex),
        });
    }

    private static bool IsWellFormedAppend(RaftMessage m)
    {
        var entries = m.Entries;
        if (entries is null)
        {
            return false;
        }

        var previousTerm = m.LogTerm;
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (entry.Index != m.Index + 1 + (ulong)i || entry.Term < previousTerm || entry.Term > m.Term || entry.Term == 0)
            {
                return false;
            }

            previousTerm = entry.Term;
        }

        return m.Index < ulong.MaxValue - (ulong)entries.Count;
    }

    private void HandleHeartbeat(RaftMessage m)
    {
        if (m.Commit <= _log.LastIndex)
        {
            _log.CommitTo(m.Commit);
            OnCommitAdvanced();
        }

        Send(new RaftMessage { Type = RaftMessageType.HeartbeatResponse, From = Id, To = m.From, Term = _term, Context = m.Context });
    }

    /// <summary>InstallSnapshot receiver (paper §7): replace the log unless it already holds the snapshot's last entry.</summary>
    private void HandleSnapshot(RaftMessage m)
    {
        var snapshot = m.Snapshot;
        if (snapshot?.Metadata is null || snapshot.IsEmpty || snapshot.Metadata.Term == 0 || snapshot.Metadata.Term > m.Term
            || snapshot.Metadata.Config is null || snapshot.Metadata.Config.Voters.Count == 0)
        {
            return;
        }

        var index = snapshot.Metadata.Index;
        if (index <= _log.Committed)
        {
            Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term, Index = _log.Committed });
            return;
        }

        if (_log.MatchTerm(index, snapshot.Metadata.Term))
        {
            _log.CommitTo(index);
            OnCommitAdvanced();
            Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term, Index = _log.Committed });
            return;
        }

        _log.Restore(snapshot);
        ResetConfig(index, snapshot.Metadata.Config);
        Send(new RaftMessage { Type = RaftMessageType.AppendResponse, From = Id, To = m.From, Term = _term, Index = _log.LastIndex });
    }
}
