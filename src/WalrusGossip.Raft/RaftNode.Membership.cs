namespace WalrusGossip.Raft;

/// <summary>
/// Membership changes, one server at a time (dissertation §4.1). Each node uses the latest configuration in its
/// log, committed or not; a leader proposes a change only when the previous one is committed and it has
/// committed an entry of its own term (the fix to the single-server algorithm, Ongaro 2015).
/// </summary>
public sealed partial class RaftNode
{
    private readonly List<(ulong Index, ClusterConfig Config)> _configHistory = [];
    private ClusterConfig _config = ClusterConfig.Empty;

    /// <summary>
    /// Proposes adding, promoting or removing one member (dissertation §4.1, §4.2.1). The change takes effect on
    /// each node as soon as the entry reaches its log. Adding a new node as learner first and promoting it once
    /// it has caught up avoids a window of reduced availability (§4.2.1).
    /// </summary>
    /// <param name="change">The change.</param>
    /// <returns>
    /// Accepted with the entry index; <see cref="ProposalStatus.ConfigChangeRefused"/> when a previous change is
    /// uncommitted, this leader has not committed an entry in its term yet, or the change is invalid for the
    /// current configuration (for example, removing the last voter); NotLeader or TransferInProgress otherwise.
    /// </returns>
    public ProposalResult ProposeConfigChange(ConfigChange change)
    {
        var refusal = CheckProposal(0, 0);
        if (refusal != ProposalStatus.Accepted)
        {
            return ProposalResult.Refused(refusal);
        }

        var committedInTerm = _log.TermOrZero(_log.Committed) == _term;
        // Injected bug for the simulator: propose while the previous change is still uncommitted (two in flight).
        var previousCommitted = _configHistory[^1].Index <= _log.Committed || _options.InjectedBugs.Contains("two-config-changes");
        var next = _config.TryApply(change);
        if (!committedInTerm || !previousCommitted || next is null)
        {
            return ProposalResult.Refused(ProposalStatus.ConfigChangeRefused);
        }

        var index = _log.LastIndex + 1;
        AppendAsLeader([new LogEntry(index, _term, EntryType.ConfigChange, next.Encode())]);
        return new ProposalResult(ProposalStatus.Accepted, index, _term);
    }

    /// <summary>Start-up: the configuration is the snapshot's, overridden by each configuration entry after it.</summary>
    private void RebuildConfigFromLog()
    {
        var snapshot = _storage.Snapshot;
        ResetConfig(snapshot.Index, snapshot.Config ?? ClusterConfig.Empty);
        var last = _log.LastIndex;
        var damaged = _storage.FirstDamagedIndex;
        if (damaged != 0 && damaged <= last)
        {
            last = damaged - 1; // unreadable until repaired; RebuildConfiguration reads the rest afterwards
        }

        for (var low = Math.Max(_log.FirstIndex, snapshot.Index + 1); low <= last;) // entries retained before the snapshot are older configurations
        {
            var entries = _log.Slice(low, last + 1, 4 << 20) ?? throw new RaftInvariantViolationException($"log entries from {low} are unavailable at start-up");
            OnEntriesAppended(entries, 0);
            low += (ulong)entries.Count;
        }
    }

    /// <summary>
    /// Rebuilds the configuration from the snapshot and every configuration entry of the log, as at start-up: after a
    /// damaged range (<see cref="IRaftLogStorage.FirstDamagedIndex"/>) that start-up could not read has been repaired.
    /// Only on a follower (an abstaining node is one); a leader's configuration is never in doubt.
    /// </summary>
    /// <exception cref="InvalidOperationException">This node is the leader.</exception>
    public void RebuildConfiguration()
    {
        if (_role == RaftRole.Leader)
        {
            throw new InvalidOperationException("a leader's configuration is rebuilt only at start-up");
        }

        RebuildConfigFromLog();
    }

    private void ResetConfig(ulong index, ClusterConfig config)
    {
        _configHistory.Clear();
        _configHistory.Add((index, config));
        _config = config;
    }

    /// <summary>New entries reached the log: adopt each configuration they carry (malformed ones are ignored on every node alike).</summary>
    private void OnEntriesAppended(IReadOnlyList<LogEntry> entries, int from)
    {
        var changed = false;
        for (var i = from; i < entries.Count; i++)
        {
            var entry = entries[i];
            if (entry.Type == EntryType.ConfigChange && ClusterConfig.TryDecode(entry.Payload.Span, out var config))
            {
                _configHistory.Add((entry.Index, config!));
                _config = config!;
                changed = true;
            }
        }

        if (changed)
        {
            OnConfigChanged();
        }
    }

    /// <summary>A follower's log was overwritten from <paramref name="firstChanged"/>: drop configurations from the removed suffix, then adopt the new entries'.</summary>
    private void OnLogReplaced(ulong firstChanged, IReadOnlyList<LogEntry> entries, int from)
    {
        var removed = false;
        while (_configHistory.Count > 1 && _configHistory[^1].Index >= firstChanged)
        {
            _configHistory.RemoveAt(_configHistory.Count - 1);
            removed = true;
        }

        RaftInvariantViolationException.Check(_configHistory[^1].Index < firstChanged, "a committed configuration cannot be truncated");
        if (removed)
        {
            _config = _configHistory[^1].Config;
            OnConfigChanged();
        }

        OnEntriesAppended(entries, from);
    }

    private void OnConfigChanged()
    {
        if (_role != RaftRole.Leader)
        {
            return;
        }

        var stale = new List<ulong>();
        foreach (var id in _progress.Keys)
        {
            if (!_config.Contains(id))
            {
                stale.Add(id);
            }
        }

        foreach (var id in stale)
        {
            _progress.Remove(id);
        }

        AddProgress(_config.Voters, isLearner: false);
        AddProgress(_config.Learners, isLearner: true);
        if (_leadTransferee != 0 && !_config.IsVoter(_leadTransferee))
        {
            _leadTransferee = 0;
        }
    }

    /// <summary>After the commit index moved: forget superseded committed configurations; a leader removed by a committed configuration steps down (§4.2.2).</summary>
    private void OnCommitAdvanced()
    {
        var committed = _log.Committed;
        while (_configHistory.Count > 1 && _configHistory[1].Index <= committed)
        {
            _configHistory.RemoveAt(0);
        }

        if (_role == RaftRole.Leader && !_config.IsVoter(Id) && _configHistory[^1].Index <= committed)
        {
            BroadcastAppend();
            BecomeFollower(_term, 0);
        }
    }
}
