namespace WalrusGossip.Raft;

/// <summary>
/// One Raft replica as a pure, deterministic state machine (etcd/raft's RawNode). It performs no I/O, reads
/// no clock and uses no shared randomness: inputs are <see cref="Step"/>, <see cref="Tick"/> and proposals;
/// outputs are collected in a <see cref="Ready"/> that the application persists, sends and applies before
/// calling <see cref="Advance"/>. Not thread-safe: drive it from one loop. See README.md for the loop.
/// </summary>
/// <remarks>
/// Bad input (unknown senders, stale terms, indexes beyond the log, malformed entries or configurations) is
/// ignored or rejected as the protocol says; <see cref="Step"/> never throws for it. A broken internal
/// invariant throws <see cref="RaftInvariantViolationException"/>.
/// </remarks>
public sealed partial class RaftNode
{
    private readonly RaftOptions _options;
    private readonly IRaftRandom _random;
    private readonly IRaftLogStorage _storage;
    private readonly RaftLog _log;
    private readonly Dictionary<ulong, Progress> _progress = [];
    private readonly Dictionary<ulong, bool> _votes = [];
    private readonly ReadIndexTracker _reads = new();
    private List<RaftMessage> _messages = [];
    private List<ReadState> _readStates = [];
    private ulong[] _matchBuffer = [];

    private ulong _term;
    private ulong _vote;
    private ulong _lead;
    private RaftRole _role;
    private int _electionElapsed;
    private int _heartbeatElapsed;
    private int _randomizedElectionTimeout;
    private ulong _leadTransferee;
    private ulong _uncommittedBytes;
    private bool _broadcastPending;

    /// <summary>Creates a node from its persisted state (a restart) or from an empty or bootstrapped storage (a first start).</summary>
    /// <param name="options">Configuration; <see cref="RaftOptions.Id"/> and <see cref="RaftOptions.Random"/> are required.</param>
    /// <param name="storage">The stable log; the node reads it and never writes to it.</param>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    /// <exception cref="RaftInvariantViolationException">The persisted state is inconsistent (for example, commit beyond the last index).</exception>
    public RaftNode(RaftOptions options, IRaftLogStorage storage)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(storage);
        options.Validate();
        _options = options;
        _random = options.Random!;
        _storage = storage;
        var hardState = storage.InitialState().HardState;
        _log = new RaftLog(storage, hardState.Commit, options.AppliedIndex)
        {
            BugCommitPreviousTerm = options.InjectedBugs.Contains("commit-previous-term"),
            BugSkipTruncateOnConflict = options.InjectedBugs.Contains("skip-truncate-on-conflict"),
        };
        RebuildConfigFromLog();
        _term = hardState.Term;
        _vote = hardState.Vote;
        BecomeFollower(_term, 0);
        _prevHardState = hardState;
        _prevSoftState = new SoftState(0, RaftRole.Follower);
    }

    /// <summary>This node's id.</summary>
    public ulong Id => _options.Id;

    /// <summary>This node's current role (cheap; <see cref="Status"/> has the rest).</summary>
    public RaftRole Role => _role;

    /// <summary>Current term (cheap; no status snapshot is built).</summary>
    public ulong Term => _term;

    /// <summary>The current state, for diagnostics and request routing.</summary>
    public RaftStatus Status => new(Id, _role, _term, _vote, _lead, _log.Committed, _log.Applied, _log.LastIndex, _config);

    /// <summary>Advances logical time by one tick: followers count towards an election timeout, leaders towards heartbeats and CheckQuorum.</summary>
    public void Tick()
    {
        if (_role == RaftRole.Leader)
        {
            TickLeader();
        }
        else
        {
            TickElection();
        }
    }

    /// <summary>Starts an election now, as if the election timeout had elapsed (for a single-node bootstrap or tests).</summary>
    /// <remarks>Does nothing on a leader or on a node that is not a voter.</remarks>
    public void Campaign() => Hup(transfer: false);

    /// <summary>Proposes one application entry (paper §5.3). Entries proposed between two <see cref="GetReady"/> calls are sent to followers as one batch.</summary>
    /// <param name="payload">The entry bytes; at most <see cref="RaftOptions.MaxEntryPayloadBytes"/>. Not copied: do not mutate after proposing.</param>
    /// <param name="type"><see cref="EntryType.Normal"/>, <see cref="EntryType.CheckpointMarker"/>, <see cref="EntryType.Security"/> or <see cref="EntryType.Consumer"/>.</param>
    /// <returns>Accepted with the entry's index and term, or why it was refused.</returns>
    /// <exception cref="ArgumentException"><paramref name="type"/> is ConfigChange or NoOp (use <see cref="ProposeConfigChange"/>).</exception>
    public ProposalResult Propose(ReadOnlyMemory<byte> payload, EntryType type = EntryType.Normal)
    {
        if (type is not (EntryType.Normal or EntryType.CheckpointMarker or EntryType.Security or EntryType.Consumer))
        {
            throw new ArgumentException("Only Normal, CheckpointMarker, Security and Consumer entries can be proposed directly.", nameof(type));
        }

        var refusal = CheckProposal((ulong)payload.Length, payload.Length);
        if (refusal != ProposalStatus.Accepted)
        {
            return ProposalResult.Refused(refusal);
        }

        var index = _log.LastIndex + 1;
        _single[0] = new LogEntry(index, _term, type, payload); // a reused one-element list: nothing below keeps it (issue 21)
        AppendAsLeader(_single);
        _single[0] = default;
        return new ProposalResult(ProposalStatus.Accepted, index, _term);
    }

    /// <summary>Proposes several application entries at once; either all are appended, in order, or none.</summary>
    /// <param name="payloads">Entry payloads, each at most <see cref="RaftOptions.MaxEntryPayloadBytes"/>.</param>
    /// <returns>Accepted with the index of the last entry, or why the batch was refused.</returns>
    /// <exception cref="ArgumentException"><paramref name="payloads"/> is empty.</exception>
    public ProposalResult ProposeBatch(IReadOnlyList<ReadOnlyMemory<byte>> payloads)
    {
        ArgumentNullException.ThrowIfNull(payloads);
        if (payloads.Count == 0)
        {
            throw new ArgumentException("A batch needs at least one entry.", nameof(payloads));
        }

        ulong total = 0;
        var largest = 0;
        for (var i = 0; i < payloads.Count; i++)
        {
            total += (ulong)payloads[i].Length;
            largest = Math.Max(largest, payloads[i].Length);
        }

        var refusal = CheckProposal(total, largest);
        if (refusal != ProposalStatus.Accepted)
        {
            return ProposalResult.Refused(refusal);
        }

        var first = _log.LastIndex + 1;
        var entries = new LogEntry[payloads.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = new LogEntry(first + (ulong)i, _term, EntryType.Normal, payloads[i]);
        }

        AppendAsLeader(entries);
        return new ProposalResult(ProposalStatus.Accepted, entries[^1].Index, _term);
    }

    /// <summary>
    /// Asks the leader to hand leadership to <paramref name="target"/> (dissertation §3.10): proposals are refused
    /// while the target catches up; then it is told to campaign at once (TimeoutNow). The attempt is abandoned
    /// after one election timeout.
    /// </summary>
    /// <param name="target">A voter other than this node.</param>
    /// <returns>False when this node is not the leader or the target is not another voter.</returns>
    public bool TransferLeadership(ulong target)
    {
        if (_role != RaftRole.Leader || target == Id || !_config.IsVoter(target) || !_progress.TryGetValue(target, out var progress))
        {
            return false;
        }

        if (_leadTransferee == target)
        {
            return true;
        }

        _leadTransferee = target;
        _electionElapsed = 0;
        if (progress.Match == _log.LastIndex)
        {
            SendTimeoutNow(target);
        }
        else
        {
            SendAppend(target, sendIfEmpty: true);
        }

        return true;
    }

    /// <summary>Tells the leader that a message to <paramref name="id"/> could not be delivered; replication falls back to probing.</summary>
    /// <param name="id">The unreachable member.</param>
    public void ReportUnreachable(ulong id)
    {
        if (_role == RaftRole.Leader && _progress.TryGetValue(id, out var progress) && progress.State == ReplicationState.Replicate)
        {
            progress.BecomeProbe();
        }
    }

    /// <summary>Tells the leader whether the snapshot sent to <paramref name="id"/> was delivered (paper §7).</summary>
    /// <param name="id">The follower the snapshot was sent to.</param>
    /// <param name="success">True when the transport delivered the whole snapshot.</param>
    public void ReportSnapshot(ulong id, bool success)
    {
        if (_role != RaftRole.Leader || !_progress.TryGetValue(id, out var progress) || progress.State != ReplicationState.Snapshot)
        {
            return;
        }

        if (success)
        {
            progress.BecomeProbe();
        }
        else
        {
            progress.SnapshotFailed();
        }

        progress.ProbeSent = true;
    }

    internal RaftLog Log => _log;

    /// <summary>The leader's replication state per member, for test diagnostics.</summary>
    /// <summary>On a leader, the highest index known to be replicated on <paramref name="id"/> (paper Figure 2, matchIndex).</summary>
    /// <param name="id">A voter or learner of the leader's configuration.</param>
    /// <param name="matchIndex">The match index; 0 when unknown.</param>
    /// <returns>False when this node is not leader or does not track <paramref name="id"/>.</returns>
    public bool TryGetMatchIndex(ulong id, out ulong matchIndex)
    {
        if (_role == RaftRole.Leader && _progress.TryGetValue(id, out var progress))
        {
            matchIndex = progress.Match;
            return true;
        }

        matchIndex = 0;
        return false;
    }

    internal string DescribeProgress() => string.Join(", ", _progress.Select(p =>
        $"{p.Key}:{p.Value.State} match={p.Value.Match} next={p.Value.Next} paused={p.Value.IsPaused} inflight={p.Value.Inflights.Count} active={p.Value.RecentActive}"));

    internal int RandomizedElectionTimeout => _randomizedElectionTimeout;

    private bool Promotable => _config.IsVoter(Id) && _log.PendingSnapshot is null && !_abstaining;

    private bool _abstaining;

    /// <summary>True while <see cref="SetAbstaining"/> holds this node out of elections.</summary>
    public bool IsAbstaining => _abstaining;

    /// <summary>
    /// Holds this node out of elections while part of its log is damaged and being repaired (protocol-aware recovery,
    /// Alagappan et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST 2018): it does not campaign (nor
    /// act on TimeoutNow), and a leader or candidate steps down to follower in its current term, since it must not
    /// serve or be elected on a log it cannot read. It still answers Vote and PreVote requests by the usual rules: the
    /// up-to-date comparison (paper §5.4.1) needs only its last index and term, which the store keeps whole (the term
    /// of every damaged index stays known), so it never votes for a candidate lacking an entry it acknowledged; and a
    /// cluster whose other voters are split would otherwise stay leaderless until the repair, which may itself need a
    /// leader's snapshot (walrus-sim seed 147). Term, vote and commit index are left as they are: a node never forgets
    /// its hard state to repair itself. Replication to it goes on.
    /// </summary>
    /// <param name="abstain">True to abstain; false to take part again once the log is whole.</param>
    public void SetAbstaining(bool abstain)
    {
        _abstaining = abstain;
        if (abstain && _role != RaftRole.Follower)
        {
            BecomeFollower(_term, 0);
        }
    }

    /// <summary>
    /// Committed entries are handed to the application (<see cref="Ready.CommittedEntries"/>) only up to
    /// <paramref name="lastApplicable"/>: the storage's entries after it are unreadable until repaired. The commit
    /// index itself is not limited.
    /// </summary>
    /// <param name="lastApplicable">Highest index that may be applied; <see cref="ulong.MaxValue"/> for no limit.</param>
    public void SetApplyLimit(ulong lastApplicable) => _log.ApplyLimit = lastApplicable;

    /// <summary>
    /// Moves the commit and applied indexes up to a snapshot that the application restored by itself while its own log
    /// still holds the snapshot's last entry: a node repairing a damaged range that every peer has compacted away
    /// (protocol-aware recovery, Alagappan et al., FAST 2018) installs a peer's checkpoint of committed state in place
    /// of the entries it cannot read, and keeps the log after it. This is the branch of the InstallSnapshot receiver
    /// (paper §7) that retains the log entries following the snapshot's last one, applied to the state machine rather
    /// than only to the commit index. Term and vote are not touched.
    /// </summary>
    /// <param name="index">The snapshot's last included index; the log must hold it.</param>
    /// <param name="term">The snapshot's last included term.</param>
    /// <returns>False (and nothing changes) when the log does not hold (<paramref name="index"/>, <paramref name="term"/>).</returns>
    public bool AdvanceToRestoredSnapshot(ulong index, ulong term)
    {
        if (index == 0 || !_log.MatchTerm(index, term))
        {
            return false;
        }

        if (index > _log.Committed)
        {
            _log.CommitTo(index);
            OnCommitAdvanced();
        }

        _log.Applied = Math.Max(_log.Applied, index);
        return true;
    }

    private HardState CurrentHardState => new(_term, _vote, _log.Committed);

    private ProposalStatus CheckProposal(ulong totalBytes, int largestBytes)
    {
        if (_role != RaftRole.Leader)
        {
            return ProposalStatus.NotLeader;
        }

        if (_leadTransferee != 0)
        {
            return ProposalStatus.TransferInProgress;
        }

        if (largestBytes > _options.MaxEntryPayloadBytes)
        {
            return ProposalStatus.TooLarge;
        }

        if (_uncommittedBytes > 0 && _uncommittedBytes + totalBytes > _options.MaxUncommittedBytes)
        {
            return ProposalStatus.Overloaded;
        }

        return ProposalStatus.Accepted;
    }

    private void AppendAsLeader(IReadOnlyList<LogEntry> entries)
    {
        for (var i = 0; i < entries.Count; i++)
        {
            _uncommittedBytes += (ulong)entries[i].Payload.Length;
        }

        // The leader's own copy counts toward the commit quorum only once it is durable (Advance), so the application
        // may send these entries to followers while it is still writing them (dissertation §10.2.1).
        _log.Append(entries);
        OnEntriesAppended(entries, 0);
        _broadcastPending = _role == RaftRole.Leader;
    }

    private void Send(RaftMessage message) => _messages.Add(message);

    /// <summary>The one-element list <see cref="Propose"/> hands to <see cref="AppendAsLeader"/>, which copies what it keeps.</summary>
    private readonly LogEntry[] _single = new LogEntry[1];
}
