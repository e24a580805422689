using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Membership;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node;

/// <summary>
/// One WalrusGossip node: the single place that wires the Raft core, SWIM membership and the local store together
/// and performs their effects. <c>walrus-agent</c> runs it with real sockets, clock and disk; <c>walrus-sim</c> with
/// simulated ones. Not thread-safe: every call must come from the one node-loop thread.
/// </summary>
/// <remarks>
/// Each input (<see cref="Tick"/>, <see cref="ReceiveRaft"/>, <see cref="ReceiveGossip"/>, <see cref="Append"/>,
/// <see cref="ReadBarrier"/>) is followed by draining Raft's Ready: persist (snapshot, entries, hard state), then
/// send, then apply committed entries and answer clients, then Advance — the persist-before-send contract of
/// <see cref="Ready"/>.
/// </remarks>
public sealed partial class WalrusNode : IDisposable
{
    private readonly NodeOptions _options;
    private readonly IStorageDevice _device;
    private readonly INodeTransport _transport;
    private readonly INodeClock _clock;
    private readonly Random _random;
    private readonly ILogger _logger;
    private readonly LogStateMachine _stateMachine = new();
    private readonly Dictionary<ulong, PendingAppend> _pendingByIndex = [];
    private readonly Dictionary<(ulong Client, ulong Sequence), ulong> _pendingBySession = [];
    private readonly Dictionary<ulong, (ulong Term, Action<ReadResult> Done)> _pendingReads = [];
    private readonly List<(ulong Index, Action<ReadResult> Done)> _readsAwaitingApply = [];
    private readonly List<OutboundMessage> _gossipOut = [];
    private readonly List<MembershipEvent> _gossipEvents = [];
    private readonly List<MembershipLogEntry> _gossipLog = [];
    private NodeStorage? _storage;
    private LocalLogView? _localLog;
    private CommittedLog _committed = CommittedLog.Empty;
    private DiskRaftLog? _raftLog;
    private RaftNode? _raft;
    private MembershipNode? _membership;
    private TimeSpan _nextRaftTick;
    private TimeSpan _nextMetadataRefresh;
    private TimeSpan _nextRejoin;
    private TimeSpan _startedAt;
    private ulong _applied;
    private ulong _nextReadId;
    private int _batchDepth;

    /// <summary>Creates the node; nothing is opened until <see cref="Start"/>.</summary>
    /// <param name="options">Node options; <see cref="NodeOptions.NodeId"/> non-zero, gossip address non-empty.</param>
    /// <param name="device">Storage device (real file system or simulated disk).</param>
    /// <param name="transport">Outbound network.</param>
    /// <param name="clock">Monotonic clock.</param>
    /// <param name="random">Seeded random source owned by the node (election timeouts, gossip choices).</param>
    /// <param name="logger">Diagnostics.</param>
    /// <exception cref="ArgumentException">Node id 0 or empty gossip address.</exception>
    public WalrusNode(NodeOptions options, IStorageDevice device, INodeTransport transport, INodeClock clock, Random random, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentNullException.ThrowIfNull(random);
        if (options.NodeId == 0 || string.IsNullOrEmpty(options.GossipAddress))
        {
            throw new ArgumentException("NodeId must be non-zero and GossipAddress non-empty", nameof(options));
        }

        _options = options;
        _stateMachine.BugDropSecurityFromSnapshots = options.InjectedBugs.Contains("checkpoint-drops-security");
        _bugUncertifiedLearner = options.InjectedBugs.Contains("uncertified-learner");
        _stateMachine.BugDuplicateTakesStreamSequence = options.InjectedBugs.Contains("duplicate-takes-stream-sequence");
        _bugFloorSkipsUnacked = options.InjectedBugs.Contains("floor-skips-unacked");
        _device = device;
        _transport = transport;
        _clock = clock;
        _random = random;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>This node's id.</summary>
    public ulong Id => _options.NodeId;

    /// <summary>True once <see cref="Start"/> has completed.</summary>
    public bool IsStarted => _raft is not null;

    /// <summary>A read-only view of the local log (size, flush latency, raw stored entries for checkers and tools).</summary>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public LocalLogView LocalLog => _localLog ?? throw new InvalidOperationException("node not started");

    /// <summary>
    /// The committed log as of the last Ready that applied entries: an immutable view that any thread may read from
    /// (range reads, stream reads and tails are served from it off the node loop).
    /// </summary>
    public CommittedLog Committed => Volatile.Read(ref _committed);

    /// <summary>The gossip membership view (SWIM) as of now: every member with its state, incarnation and metadata.</summary>
    /// <returns>A copy; later changes do not show in it.</returns>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public IReadOnlyList<MemberSnapshot> GetMembers() => Membership.GetSnapshot(_clock.Now);

    /// <summary>Announces that this node leaves the gossip group (a graceful stop), and sends the announcement.</summary>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public void LeaveGossip()
    {
        var now = _clock.Now;
        Membership.Leave(now);
        Membership.Tick(now);
        FlushGossip();
    }

    /// <summary>Returns the log's group-commit buffers to their resting size (after a load has stopped).</summary>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public void ReleaseMemory() => Storage.Log.ReleaseMemory();

    private MembershipNode Membership => _membership ?? throw new InvalidOperationException("node not started");

    /// <summary>The membership layer's counters (datagrams, drops by reason, refutations, failed probes); read on the node loop.</summary>
    /// <exception cref="InvalidOperationException">The node was not started.</exception>
    public MembershipCounters MembershipCounters => Membership.Counters;

    private NodeStorage Storage => _storage ?? throw new InvalidOperationException("node not started");

    private RaftNode Raft => _raft ?? throw new InvalidOperationException("node not started");

    /// <summary>Highest index applied to the state machine (cheap; no status snapshot is built).</summary>
    public ulong AppliedIndex => _applied;

    /// <summary>Current status.</summary>
    public NodeStatus Status
    {
        get
        {
            var s = Raft.Status;
            var log = Storage.Log;
            return new NodeStatus(Id, s.Role, s.Term, s.Leader, s.Commit, _applied, log.FirstIndex, log.LastIndex, s.Config.IsLearner(Id), s.Config.Voters, s.Config.Learners);
        }
    }

    /// <summary>
    /// Opens (recovering) the data directory, bootstraps the cluster configuration on first start when
    /// <see cref="NodeOptions.InitialVoters"/> is set, builds the Raft and membership state machines and joins the gossip seeds.
    /// </summary>
    /// <exception cref="DataDirectoryException">The data directory is unusable.</exception>
    /// <exception cref="LogCorruptionException">Recovery found corruption.</exception>
    public void Start()
    {
        var storageOptions = CloneStorageOptions(_options.Storage);
        _storage = NodeStorage.Open(_device, _options.DataDirectory, storageOptions, _logger);
        _localLog = new LocalLogView(_storage.Log);
        var raftLog = NewRaftLog(_storage);
        if (raftLog.IsEmpty && _options.InitialVoters.Count > 0)
        {
            Bootstrap(_storage, ClusterConfig.Create(_options.InitialVoters));
            raftLog = NewRaftLog(_storage);
        }

        _raftLog = raftLog;
        IsRemoved = _storage.ReadRemoval() is not null;
        _applied = raftLog.Snapshot.Index;
        if (!raftLog.GetSnapshot().IsEmpty)
        {
            _stateMachine.Restore(raftLog.GetSnapshot().Data, raftLog.Snapshot.Config);
        }

        ScrubAtStart(); // before the Raft core reads its configuration entries from the log
        _raft = CreateRaft(raftLog);
        CheckDamage(_clock.Now);
        var now = _clock.Now;
        _startedAt = now;
        OpenGossipKeyring();
        _membership = new MembershipNode(
            _options.NodeId.ToString(CultureInfo.InvariantCulture),
            _options.GossipAddress,
            MembershipOptionsForKeyring(),
            new Random(_random.Next()),
            now,
            BuildMetadata());
        if (_options.GossipSeeds.Count > 0)
        {
            _membership.Join(now, _options.GossipSeeds);
        }

        _nextRaftTick = now + _options.TickInterval;
        _nextMetadataRefresh = now + _options.MetadataRefreshInterval;
        _nextAgeRetention = now + AgeRetentionInterval;
        RefreshFreeSpace();
        FlushGossip();
        ProcessReady();
        PublishCommitted();
    }

    /// <summary>True while this node has no log and no configuration: it waits to bootstrap or to be added by a leader.</summary>
    public bool IsUnconfigured => _raftLog is { IsEmpty: true };

    /// <summary>
    /// Bootstraps a new cluster from this node's empty store: entry 1 (term 1) holds a configuration of
    /// <paramref name="voters"/>. Every founding member must bootstrap with the same list (the agent's
    /// <c>--bootstrap-expect</c> waits until gossip has found them all, then each takes the same set).
    /// </summary>
    /// <param name="voters">Founding voter ids; must include this node.</param>
    /// <returns>False when the store is not empty (already bootstrapped or joined); nothing changes.</returns>
    /// <exception cref="ArgumentException"><paramref name="voters"/> is empty or does not include this node.</exception>
    public bool TryBootstrap(IReadOnlyList<ulong> voters)
    {
        ArgumentNullException.ThrowIfNull(voters);
        if (voters.Count == 0 || !voters.Contains(Id))
        {
            throw new ArgumentException("the founding voters must include this node", nameof(voters));
        }

        if (_raftLog is not { IsEmpty: true })
        {
            return false;
        }

        Bootstrap(Storage, ClusterConfig.Create(voters));
        _raftLog = NewRaftLog(Storage);
        _raft = CreateRaft(_raftLog);
        ProcessReady();
        return true;
    }

    private RaftNode CreateRaft(DiskRaftLog raftLog) =>
        new(
            new RaftOptions
            {
                Id = _options.NodeId,
                Random = new SeededRaftRandom(unchecked((ulong)_random.NextInt64())),
                ElectionTicks = _options.ElectionTicks,
                HeartbeatTicks = _options.HeartbeatTicks,
                AppliedIndex = _applied,
                MaxAppendBytes = _options.MaxAppendBytes,
                MaxCommittedBytesPerReady = _options.MaxCommittedBytesPerReady,
                InjectedBugs = _options.InjectedBugs,
            },
            raftLog);

    /// <summary>Advances timers: Raft ticks that are due, membership probes and suspicion timeouts; then performs effects.</summary>
    public void Tick()
    {
        var now = _clock.Now;
        while (now >= _nextRaftTick)
        {
            if (!IsRemoved)
            {
                Raft.Tick(); // a removed node's clock stops: it never campaigns again
            }

            _nextRaftTick += _options.TickInterval;
        }

        Membership.Tick(now);
        BootstrapFromGossipIfExpected(now);
        TickSnapshotTransfers(now);
        CheckDamage(now);
        CheckConsistencyIfDue(now);
        CheckpointIfDue();
        if (now >= _nextMetadataRefresh)
        {
            _nextMetadataRefresh = now + _options.MetadataRefreshInterval;
            RefreshFreeSpace();
            RetainByAgeIfDue(now);
            Membership.TryUpdateMetadata(now, BuildMetadata());
            RejoinSeedsIfCutOff(now);

            if (_options.ManageMembership)
            {
                ManageMembership(now);
            }
        }

        FlushGossip();
        ProcessReady();
    }

    /// <summary>
    /// Retries the join (an idempotent push-pull) with seeds missing from the live view: every second while this node
    /// knows no live peer, else every <see cref="RejoinInterval"/>. Without it, a node whose start-up join reached no seed,
    /// or two groups that each declared the other dead during a partition, would never hear of each other again:
    /// SWIM only probes and gossips to members it already knows (found by walrus-sim, seeds 8 and 36).
    /// </summary>
    private void RejoinSeedsIfCutOff(TimeSpan now)
    {
        if (_options.GossipSeeds.Count == 0 || now < _nextRejoin)
        {
            return;
        }

        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var member in Membership.GetSnapshot(now))
        {
            if (member.State is MemberState.Alive or MemberState.Suspect)
            {
                live.Add(member.Address);
            }
        }

        var missing = new List<string>();
        foreach (var seed in _options.GossipSeeds)
        {
            if (!live.Contains(seed))
            {
                missing.Add(seed);
            }
        }

        if (missing.Count > 0)
        {
            Membership.Join(now, missing);
            _nextRejoin = now + (live.Count <= 1 ? TimeSpan.FromSeconds(1) : RejoinInterval);
        }
    }

    /// <summary>How often a node that knows some peers retries seeds missing from its live view.</summary>
    private static readonly TimeSpan RejoinInterval = TimeSpan.FromSeconds(10);

    /// <summary>The time by which <see cref="Tick"/> should next be called.</summary>
    public TimeSpan NextTickDue => _membership is null ? _nextRaftTick : TimeSpan.FromTicks(Math.Min(_nextRaftTick.Ticks, _membership.NextDeadline.Ticks));

    /// <summary>Delivers a Raft message from a peer.</summary>
    /// <param name="message">The message; ignored when not addressed to this node.</param>
    public void ReceiveRaft(RaftMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.To != Id)
        {
            return;
        }

        if (message.Type is RaftMessageType.RepairRequest or RaftMessageType.RepairResponse)
        {
            ReceiveRepair(message);
            return;
        }

        if (message.Type is RaftMessageType.HashRequest or RaftMessageType.HashResponse)
        {
            ReceiveHash(message);
            return;
        }

        if (IsLowOnSpace && message.Type is RaftMessageType.Append or RaftMessageType.InstallSnapshot or RaftMessageType.SnapshotChunk
            && (message.Entries.Count > 0 || message.Type != RaftMessageType.Append))
        {
            RefusedForSpace++; // as if lost: the leader resends once this node has room; heartbeats and votes still flow
            return;
        }

        if (message.Type == RaftMessageType.Removed)
        {
            ReceiveRemoved(message);
            return;
        }

        if (IsRemoved)
        {
            return; // removed by an operator: neither votes nor takes entries
        }

        if (_operatorRemoved.Contains(message.From) && Raft.Role == RaftRole.Leader)
        {
            TellRemoved(message.From, 0); // it missed the notice (down, or the message was lost)
            return;
        }

        if (message.Type is RaftMessageType.SnapshotChunk or RaftMessageType.SnapshotChunkResponse)
        {
            ReceiveSnapshotTransfer(message);
            return;
        }

        Raft.Step(message);
        ProcessReady();
    }

    /// <summary>Delivers a gossip datagram or stream message.</summary>
    /// <param name="fromAddress">Sender's gossip address.</param>
    /// <param name="reliable">True when it arrived over a stream (push-pull).</param>
    /// <param name="payload">Encoded bytes; malformed input is counted and dropped by the membership layer.</param>
    public void ReceiveGossip(string fromAddress, bool reliable, ReadOnlyMemory<byte> payload)
    {
        var now = _clock.Now;
        if (!TryOpenGossip(payload.Span, out var opened))
        {
            return; // not sealed with a key of this keyring (or sealed while this node has none): dropped and counted
        }

        if (opened is not null)
        {
            payload = opened;
        }
        if (reliable)
        {
            Membership.ReceiveStream(now, fromAddress, payload);
        }
        else
        {
            Membership.ReceiveDatagram(now, fromAddress, payload);
        }

        FlushGossip();
    }

    /// <summary>Most membership events kept for <see cref="DrainMembershipEvents"/>; older ones are dropped.</summary>
    public const int MaxBufferedMembershipEvents = 4096;

    /// <summary>Drains membership events (joined, suspect, dead, ...) since the last call, at most the newest <see cref="MaxBufferedMembershipEvents"/>.</summary>
    /// <param name="into">Receives the events.</param>
    public void DrainMembershipEvents(ICollection<MembershipEvent> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        foreach (var e in _gossipEvents)
        {
            into.Add(e);
        }

        _gossipEvents.Clear();
    }

    /// <summary>Flushes the log and closes the data directory (a clean stop; a crash simply abandons the object).</summary>
    public void Dispose()
    {
        try
        {
            _checkpointWrite?.Wait(); // a background checkpoint write finishes (or fails) before its files are let go
        }
        catch (AggregateException)
        {
        }

        _checkpointWrite = null;
        _keyring?.Dispose();
        _keyring = null;
        _storage?.Dispose();
        _storage = null;
        Volatile.Write(ref _committed, CommittedLog.Empty);
    }

    private ulong _prunedBelow;

    /// <summary>Publishes a new <see cref="Committed"/> view when the applied index, first index or duplicates changed.</summary>
    private void PublishCommitted()
    {
        var log = Storage.Log;
        if (log.FirstIndex != _prunedBelow)
        {
            // The log's prefix was compacted (retention, a snapshot install): its stream entries and duplicates go too.
            _stateMachine.PruneBelow(log.FirstIndex);
            _prunedBelow = log.FirstIndex;
        }

        var current = _committed;
        if (current.AppliedIndex != _applied || current.FirstIndex != log.FirstIndex || !ReferenceEquals(current.Duplicates, _stateMachine.Duplicates))
        {
            Volatile.Write(ref _committed, new CommittedLog(log, _applied, log.FirstIndex, _stateMachine.Duplicates, _stateMachine.Streams));
        }
    }

    private StorageOptions CloneStorageOptions(StorageOptions o) => new()
    {
        MaxSegmentBytes = o.MaxSegmentBytes,
        MaxEntryBytes = o.MaxEntryBytes,
        // Injected bug for the simulator: entries are acknowledged to the leader before they are durable.
        Durability = _options.InjectedBugs.Contains("ack-before-fsync") ? DurabilityPolicy.None : o.Durability,
        IoEngine = o.IoEngine,
        MaxBatchBytes = o.MaxBatchBytes,
        IndexIntervalBytes = o.IndexIntervalBytes,
        InlineWrites = true,
        PrepareSegmentsInBackground = o.PrepareSegmentsInBackground,
        RunInBackground = o.RunInBackground,
        Retention = o.Retention,
        ReserveBytes = o.ReserveBytes,
        TimeProvider = o.TimeProvider,
    };

    private DiskRaftLog NewRaftLog(NodeStorage storage) =>
        new(storage) { BugTruncatePastCheckpoint = _options.InjectedBugs.Contains("truncate-past-checkpoint") };

    private static void Bootstrap(NodeStorage storage, ClusterConfig config)
    {
        var entry = new LogEntry(1, 1, EntryType.ConfigChange, config.Encode());
        storage.Log.AppendBatchAsync([entry]).AsTask().GetAwaiter().GetResult();
        storage.HardState.Save(new HardState(1, 0, 1));
    }

    /// <summary>The static metadata plus the live values of the <see cref="MetadataKeys"/> contract.</summary>
    private Dictionary<string, string> BuildMetadata()
    {
        var metadata = new Dictionary<string, string>(_options.Metadata)
        {
            [MetadataKeys.BootstrapExpect] = Decimal((ulong)Math.Max(0, _options.BootstrapExpect)),
            [MetadataKeys.UptimeSeconds] = Decimal((ulong)(_clock.Now - _startedAt).TotalSeconds),
        };
        if (_raft is not null)
        {
            var s = _raft.Status;
            metadata[MetadataKeys.RaftRole] = s.Role.ToString().ToLowerInvariant();
            metadata[MetadataKeys.RaftTerm] = Decimal(s.Term);
            metadata[MetadataKeys.CommitIndex] = Decimal(s.Commit);
            metadata[MetadataKeys.AppliedIndex] = Decimal(_applied);
            metadata[MetadataKeys.ReplicationLag] = Decimal(ReplicationLag(s));
            metadata[MetadataKeys.DiskUsedBytes] = Decimal((ulong)Storage.Log.DataBytes);
        }

        if (IsRemoved)
        {
            metadata[MetadataKeys.RaftRemoved] = "1";
        }

        return metadata;
    }

    /// <summary>On the leader, the largest gap between its last index and a member's match index; elsewhere commit minus applied.</summary>
    private ulong ReplicationLag(RaftStatus status)
    {
        if (status.Role != RaftRole.Leader)
        {
            return status.Commit > _applied ? status.Commit - _applied : 0;
        }

        ulong lag = 0;
        var last = _raftLog!.LastIndex;
        foreach (var member in status.Config.Voters.Concat(status.Config.Learners))
        {
            if (member != Id && Raft.TryGetMatchIndex(member, out var match) && last > match)
            {
                lag = Math.Max(lag, last - match);
            }
        }

        return lag;
    }

    private static string Decimal(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// <see cref="NodeOptions.BootstrapExpect"/>: while the store is empty, once gossip shows enough alive members that
    /// announce the same expectation, bootstrap with the lowest ids among them (every founder computes the same set).
    /// </summary>
    private void BootstrapFromGossipIfExpected(TimeSpan now)
    {
        var expect = _options.BootstrapExpect;
        if (expect <= 0 || !IsUnconfigured)
        {
            return;
        }

        var founders = new List<ulong>();
        var expectText = Decimal((ulong)expect);
        foreach (var member in Membership.GetSnapshot(now))
        {
            if (member.State == MemberState.Alive && member.Name != Decimal(Id) &&
                member.Metadata.TryGetValue(MetadataKeys.CommitIndex, out var commit) && commit != "0")
            {
                // A cluster already exists (a member has committed entries): this node was wiped or is new, and must
                // be caught up by that cluster's leader, never found a second cluster of its own.
                return;
            }

            if (member.State == MemberState.Alive &&
                member.Metadata.TryGetValue(MetadataKeys.BootstrapExpect, out var announced) && announced == expectText &&
                ulong.TryParse(member.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id != 0)
            {
                founders.Add(id);
            }
        }

        if (founders.Count < expect)
        {
            return;
        }

        founders.Sort();
        var voters = founders.GetRange(0, expect);
        if (voters.Contains(Id) && TryBootstrap(voters))
        {
            LogBootstrapped(_logger, string.Join(",", voters));
        }
    }

    private void FlushGossip()
    {
        var membership = Membership;
        membership.DrainMessages(_gossipOut);
        foreach (var m in _gossipOut)
        {
            _transport.SendGossip(m.To, m.Kind == OutboundKind.Stream, _keyring is null ? m.Payload : _keyring.Seal(m.Payload));
        }

        _gossipOut.Clear();
        membership.DrainEvents(_gossipEvents);
        if (_gossipEvents.Count > MaxBufferedMembershipEvents)
        {
            // Nothing in the agent drains them (the views come from snapshots): keep the newest, so a node that runs for
            // years does not hold every metadata update it ever heard.
            _gossipEvents.RemoveRange(0, _gossipEvents.Count - MaxBufferedMembershipEvents);
        }

        membership.DrainLog(_gossipLog);
        foreach (var line in _gossipLog)
        {
            LogGossip(_logger, line.ToString());
        }

        _gossipLog.Clear();
    }

    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "bootstrapped the cluster with voters {Voters}")]
    private static partial void LogBootstrapped(ILogger logger, string voters);

    [LoggerMessage(EventId = 100, Level = LogLevel.Debug, Message = "gossip: {Line}")]
    private static partial void LogGossip(ILogger logger, string line);
}
