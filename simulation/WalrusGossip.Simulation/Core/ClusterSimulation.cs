using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Membership;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Simulation.Checking;
using WalrusGossip.Simulation.Disk;
using WalrusGossip.Storage;
using WalrusGossip.Storage.Segments;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// One deterministic simulated run: real <see cref="WalrusNode"/>s on simulated disks, joined by a simulated network,
/// driven by a single-threaded discrete-event scheduler under virtual time, with faults and a client workload chosen
/// by one seeded generator, and the safety checkers run after every event.
/// </summary>
/// <remarks>
/// Determinism: the queue is ordered by (virtual time, insertion sequence); every random choice comes from generators
/// derived from <see cref="SimOptions.Seed"/> in a fixed order; nothing reads the wall clock or iterates a hash-ordered
/// collection. The run stops at the first violated property.
/// </remarks>
internal sealed partial class ClusterSimulation : INodeClock
{
    /// <summary>A leader must be elected and a new append commit within this much virtual time after a heal.</summary>
    public static readonly TimeSpan LivenessBound = TimeSpan.FromSeconds(10);

    /// <summary>After a heal, SWIM must show every running node alive and a node down for the whole window dead, by this time.</summary>
    public static readonly TimeSpan MembershipBound = TimeSpan.FromSeconds(25);

    private readonly SimOptions _options;
    private readonly PriorityQueue<SimEvent, (TimeSpan, long)> _queue = new();
    private readonly Random _nodeSeeds;
    private readonly List<SimNode> _nodes = [];
    private readonly SafetyChecker _checker;
    private readonly TraceRecorder? _trace;
    /// <summary>Events allowed per simulated second before the run is declared livelocked.</summary>
    private const long MaxEventsPerSimSecond = 50_000;

    private long _sequence;
    private TimeSpan _rateWindowStart;
    private long _rateWindowSteps;
    private long _step;
    private Violation? _violation;
    private readonly VirtualTimeProvider _wallClock;

    /// <summary>Builds the cluster (nothing runs until <see cref="Run"/>).</summary>
    /// <param name="options">Run options.</param>
    /// <param name="trace">Trace recorder, or null to skip tracing (faster).</param>
    public ClusterSimulation(SimOptions options, TraceRecorder? trace)
    {
        _options = options;
        _trace = trace;
        var root = new Random(unchecked((int)(options.Seed ^ (options.Seed >> 32))));
        _nodeSeeds = new Random(root.Next());
        _network = new Random(root.Next());
        _faults = new Random(root.Next());
        _workload = new Random(root.Next());
        var diskSeeds = new Random(root.Next());
        for (var id = 1; id <= options.Nodes; id++)
        {
            var disk = new SimulatedDisk(new Random(diskSeeds.Next())) { LoseUnsyncedOnCrash = options.Faults.HasFlag(FaultKinds.Disk), Clock = () => VirtualTimeProvider.At(Now) };
            _nodes.Add(new SimNode(id, disk));
        }

        _checker = new SafetyChecker(this);
        _wallClock = new VirtualTimeProvider(() => Now);
        InitNetwork();
    }

    /// <summary>Current virtual time (the clock every node reads).</summary>
    public TimeSpan Now { get; private set; }

    /// <summary>Counters.</summary>
    public RunStats Stats { get; } = new();

    /// <summary>The node slots, index = id - 1.</summary>
    public IReadOnlyList<SimNode> Nodes => _nodes;

    /// <summary>Runs until the step or time limit, or the first violation.</summary>
    /// <returns>The violation, or null.</returns>
    public Violation? Run()
    {
        foreach (var node in _nodes)
        {
            StartNode(node);
        }

        StartWorkload();
        StartConsumers();
        StartFaultSchedule();
        var end = TimeSpan.FromSeconds(_options.SimSeconds);
        while (_violation is null && _queue.TryDequeue(out var e, out _))
        {
            if (_options.Steps is { } steps ? _step >= steps : e.At > end)
            {
                Schedule(e, e.At); // put back for the epilogue: a node's pending loop run must not be lost
                break;
            }

            Now = e.At;
            if (!Dispatch(e))
            {
                continue;
            }

            _step++;
            CheckEventRate();
            // A message or request that only joined a node's inbox changed no node's state: nothing to check yet.
            if (_violation is null && e.Kind is EventKind.Run or EventKind.Action)
            {
                Observe(true);
                _checker.AfterStep(e.Node);
                Observe(false);
            }
        }

        if (_violation is null)
        {
            Observe(true);
            _checker.Final();
            Observe(false);
        }

        if (_violation is null && _options.Steps is null)
        {
            ConsistencyEpilogue();
        }

        Stats.Steps = _step;
        Stats.SimTime = Now;
        foreach (var n in _nodes)
        {
            CountProcess(n);
        }

        return _violation;
    }

    /// <summary>
    /// A bound on work per unit of virtual time: a healthy cluster handles a few hundred events per simulated second,
    /// so more than <see cref="MaxEventsPerSimSecond"/> means a livelock (e.g. an endless reject/resend storm); without
    /// this bound such a run would never reach its end time.
    /// </summary>
    private void CheckEventRate()
    {
        if (Now >= _rateWindowStart + TimeSpan.FromSeconds(1))
        {
            _rateWindowStart = Now;
            _rateWindowSteps = _step;
        }
        else if (_step - _rateWindowSteps > MaxEventsPerSimSecond)
        {
            Fail("livelock", $"more than {MaxEventsPerSimSecond} events within one simulated second since {Seconds(_rateWindowStart)}: the cluster is spinning without making progress");
        }
    }

    private void Observe(bool on)
    {
        foreach (var node in _nodes)
        {
            node.Disk.Observing = on;
        }
    }

    /// <summary>Records a violation; the run stops after the current event.</summary>
    /// <param name="property">Property name.</param>
    /// <param name="detail">Evidence.</param>
    public void Fail(string property, string detail)
    {
        if (_violation is null)
        {
            _violation = new Violation(property, _step, Now, detail);
            Trace($"VIOLATION {property}: {detail}");
            foreach (var node in _nodes)
            {
                Trace($"  n{node.Id}: {DescribeNode(node)}");
            }
        }
    }

    /// <summary>The voters of the latest configuration <paramref name="process"/> holds; null when it has none yet (not started).</summary>
    private static IReadOnlyList<ulong>? VotersOf(WalrusNode? process)
    {
        try
        {
            return process?.Status.Voters;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>One node's state for the trace after a violation: role, term, leader, indexes, configuration, repair.</summary>
    private static string DescribeNode(SimNode node)
    {
        if (node.Process is not { } p)
        {
            return "down";
        }

        try
        {
            var s = p.Status;
            return string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"{s.Role} term={s.Term} leader={s.LeaderId} commit={s.CommitIndex} applied={s.AppliedIndex} log={s.FirstIndex}..{s.LastIndex} voters=[{string.Join(',', s.Voters)}] learners=[{string.Join(',', s.Learners)}] repairing={p.IsRepairing} damaged={p.DamagedRangesFound} removed={p.IsRemoved}{(node.Paused ? " paused" : "")}");
        }
        catch (InvalidOperationException e)
        {
            return "not started: " + e.Message;
        }
    }

    /// <summary>Schedules an event.</summary>
    /// <param name="e">The event; its time is set from <paramref name="at"/>.</param>
    /// <param name="at">Virtual time, not before now.</param>
    public void Schedule(SimEvent e, TimeSpan at)
    {
        Debug.Assert(at >= Now, "events are never scheduled in the past");
        e.At = at;
        e.Sequence = ++_sequence;
        _queue.Enqueue(e, (at, e.Sequence));
    }

    /// <summary>Schedules a simulator action.</summary>
    /// <param name="delay">Delay from now.</param>
    /// <param name="label">Trace label.</param>
    /// <param name="run">What to do.</param>
    public void After(TimeSpan delay, string label, Action run) =>
        Schedule(new SimEvent { Kind = EventKind.Action, Label = label, Run = run }, Now + delay);

    /// <summary>Writes an extra trace line (faults, client outcomes); free when not tracing.</summary>
    /// <param name="text">Line text.</param>
    public void Trace(string text) => _trace?.Line(_step, Now, text);

    /// <summary>True when tracing, so callers can skip building labels.</summary>
    public bool Tracing => _trace is not null;

    private bool Dispatch(SimEvent e)
    {
        if (e.Kind == EventKind.Action)
        {
            _trace?.Line(_step, Now, e.Describe());
            e.Run!();
            return true;
        }

        var node = _nodes[e.Node - 1];
        if (!node.Up || node.Incarnation != e.Incarnation)
        {
            return false;
        }

        if (e.Kind == EventKind.Run)
        {
            if (e.At != node.ScheduledRun || node.Paused)
            {
                return false;
            }

            node.ScheduledRun = TimeSpan.MaxValue;
            _trace?.Line(_step, Now, e.Describe());
            RunLoop(node);
            return true;
        }

        // A message or request arriving: it joins the process's inbox (also while paused, as a stopped process's socket
        // buffers it) and the loop's scheduler is woken, exactly as the agent's network threads post to its loop.
        _trace?.Line(_step, Now, e.Describe());
        var loop = node.Loop!;
        switch (e.Kind)
        {
            case EventKind.Raft:
                var message = e.RaftMessage!;
                loop.Post(n => n.ReceiveRaft(message));
                break;
            case EventKind.Gossip:
                var (from, reliable, payload) = (e.From!, e.Reliable, e.Payload);
                loop.Post(n => n.ReceiveGossip(from, reliable, payload));
                break;
            default:
                var run = e.Run!;
                loop.Post(_ => run());
                break;
        }

        return true;
    }

    /// <summary>Virtual time one loop iteration takes: a little per iteration, and a flush's worth per fsync it made.</summary>
    private static readonly TimeSpan IterationTime = TimeSpan.FromMicroseconds(20);

    /// <summary>Virtual time of one fdatasync on the simulated disk (this machine kind's disk: about 0.25 ms).</summary>
    private static readonly TimeSpan SyncTime = TimeSpan.FromMicroseconds(250);

    /// <summary>
    /// Runs one iteration of the node's loop: what was posted since the last one is one batch (one Ready, one fsync),
    /// as in the agent. The loop is then busy for the virtual time its fsyncs took, and work posted meanwhile waits
    /// for the next iteration, which is what makes group commit batch under load.
    /// </summary>
    private void RunLoop(SimNode node)
    {
        var syncs = node.Disk.Syncs;
        TimeSpan next;
        try
        {
            next = node.Loop!.RunOnce();
        }
        catch (SimulatedCrashException)
        {
            Trace($"n{node.Id} crashed inside a device call");
            MarkDown(node);
            return;
        }
        catch (Exception ex) when (ex is RaftInvariantViolationException or MembershipInvariantViolationException or StorageException or InvalidOperationException or ArgumentException or StateMachineSnapshotException)
        {
            Fail("node-invariant", $"n{node.Id} threw {ex.GetType().Name}: {ex.Message}");
            return;
        }

        node.BusyUntil = Now + IterationTime + (SyncTime * (node.Disk.Syncs - syncs));
        node.ScheduledRun = TimeSpan.MaxValue; // a wake-up during the iteration scheduled a run the busy loop cannot take
        ScheduleRun(node, next);
    }

    /// <summary>Makes sure a loop-run event exists at <paramref name="at"/> (or earlier), not before the loop is free.</summary>
    /// <param name="node">An up node.</param>
    /// <param name="at">When the loop needs to run.</param>
    public void ScheduleRun(SimNode node, TimeSpan at)
    {
        if (at < node.BusyUntil)
        {
            at = node.BusyUntil;
        }

        if (at < Now)
        {
            at = Now;
        }

        if (at < node.ScheduledRun)
        {
            node.ScheduledRun = at;
            Schedule(new SimEvent { Kind = EventKind.Run, Node = node.Id, Incarnation = node.Incarnation }, at);
        }
    }

    /// <summary>Starts (or restarts) a node's process on its disk. Corruption found by recovery, or by the first read of a record open trusted, after an injected bit flip is the expected detection: the byte is repaired and the node started again.</summary>
    /// <param name="node">A down node.</param>
    public void StartNode(SimNode node)
    {
        Debug.Assert(!node.Up, "node already up");
        for (var attempt = 0; attempt < 2; attempt++)
        {
            node.Incarnation++;
            node.Paused = false;
            node.ScheduledRun = TimeSpan.MaxValue;
            node.BusyUntil = Now;
            var process = new WalrusNode(
                BuildNodeOptions(node),
                node.Disk.Attach(),
                new SimTransport(this, node, node.Incarnation),
                this,
                new Random(_nodeSeeds.Next()));
            node.Process = process;
            node.Loop = new NodeLoop(process, this, new SimScheduler(this, node, node.Incarnation));
            try
            {
                node.Loop.Open();
                if (node.PendingFlip is { } pending)
                {
                    // The node scrubs every sealed segment at start. A flip it found stays on disk for repair; a flip the
                    // scrub cannot see (a sealed segment open scanned and stopped at, in the zeros past the data end, or
                    // below the first retained index) goes the old way: the flipped segment is read now, standing in for
                    // the first read, and corruption found there is restored and the node restarted (caught below).
                    if (process.DamagedRangesFound > 0)
                    {
                        // The start-up scrub found the flip: the corruption stays on disk (it is not undone) and the node
                        // must repair the range from its peers (protocol-aware repair) before it votes again.
                        Stats.BitFlipsDetected++;
                        Stats.BitFlipsLeftForRepair++;
                        Trace($"n{node.Id} start-up scrub found {process.DamagedRangesFound} damaged range(s): repairing from peers");
                        node.PendingFlip = null;
                    }
                    else
                    {
                        ReadFlippedSegment(node, process.LocalLog, pending.Path);
                        node.PendingFlip = null;
                    }
                }

                if (process.LocalLog.RecoveredTornBytes > 0)
                {
                    Stats.TornTailsRecovered++;
                }

                if (process.CheckpointIndex > 0)
                {
                    Stats.RestartsFromCheckpoint++;
                }

                Trace($"n{node.Id} started incarnation {node.Incarnation} last={process.LocalLog.LastIndex}");
                _checker.NodeStarted(node);
                ReconcileKeyring(node);
                ScheduleRun(node, process.NextTickDue);
                return;
            }
            catch (SimulatedCrashException)
            {
                Trace($"n{node.Id} crashed during start-up");
                MarkDown(node);
                return;
            }
            catch (LogCorruptionException ex) when (node.PendingFlip is { } flip)
            {
                Stats.BitFlipsDetected++;
                Trace($"n{node.Id} recovery detected the bit flip: {ex.Message}");
                node.Disk.Crash();
                node.Disk.RestoreByte(flip.Path, flip.Offset, flip.Original);
                node.PendingFlip = null;
                node.Process = null;
                node.Loop = null;
            }
            catch (Exception ex) when (ex is StorageException or RaftInvariantViolationException or InvalidOperationException or ArgumentException or IOException)
            {
                node.Process = null;
                node.Loop = null;
                Fail("recovery", $"n{node.Id} failed to start: {ex.GetType().Name}: {ex.Message}");
                return;
            }
        }
    }

    /// <summary>Reads every retained entry from the first index of the segment file <paramref name="segmentPath"/> on, without fault injection.</summary>
    /// <exception cref="LogCorruptionException">A record fails verification (the store then deletes that segment's index file).</exception>
    private static void ReadFlippedSegment(SimNode node, LocalLogView log, string segmentPath)
    {
        if (!SegmentNames.TryParse(Path.GetFileName(segmentPath), out var segmentFirst, out _))
        {
            return;
        }

        node.Disk.Observing = true;
        try
        {
            for (var index = Math.Max(segmentFirst, log.FirstIndex); index <= log.LastIndex; index++)
            {
                _ = log.Read(index);
            }
        }
        finally
        {
            node.Disk.Observing = false;
        }
    }

    /// <summary>Crashes a node's process now: unsynced writes are partly lost (with disk faults), in-flight work is abandoned.</summary>
    /// <param name="node">An up node.</param>
    public void CrashNode(SimNode node)
    {
        if (!node.Up)
        {
            return;
        }

        node.Disk.Crash();
        MarkDown(node);
    }

    /// <summary>Adds one process incarnation's counters to the run's.</summary>
    private void CountProcess(SimNode node)
    {
        if (node.Process is not { } p)
        {
            return;
        }

        Stats.Checkpoints += p.CheckpointsTaken;
        Stats.SnapshotsInstalled += p.SnapshotsInstalled;
        Stats.SnapshotChunksSent += p.SnapshotChunksSent;
        Stats.SnapshotTransfersResumed += p.SnapshotTransfersResumed;
        Stats.AgeRetentionPasses += p.AgeRetentionPasses;
        Stats.AutopilotRemovals += p.AutopilotVoterRemovals + p.AutopilotLearnerRemovals;
        Stats.AutopilotPromotions += p.AutopilotPromotions;
        Stats.UncertifiedMembersRefused += p.AutopilotUncertifiedSkipped;
        Stats.ConsumerEntries += p.ConsumerEntriesProposed;
        Stats.GossipDropped += p.GossipDroppedPlaintext + p.GossipDroppedUnauthenticated;
        Stats.EntriesRepaired += p.EntriesRepaired;
        Stats.DamageReplacedBySnapshot += p.DamageReplacedBySnapshot;
        Stats.ConsistencyRounds += p.ConsistencyChecks;
        Stats.ConsistencyRangesCompared += p.ConsistencyRangesCompared;
    }

    private void MarkDown(SimNode node)
    {
        CountProcess(node);
        node.LastVoters = VotersOf(node.Process) ?? node.LastVoters;
        node.Process = null;
        node.Loop = null;
        node.Paused = false;
        node.ScheduledRun = TimeSpan.MaxValue;
        node.DownSince = Now;
        Stats.Crashes++;
    }

    /// <summary>
    /// The production preset (<see cref="NodeOptions"/>'s defaults, as the agent runs it) with what a simulated node
    /// must differ in: its identity and seeds; founders (the first <see cref="SimOptions.Founders"/>) bootstrap through
    /// gossip with <c>BootstrapExpect</c> and the rest join as learners, as agents do; the tick scaled by
    /// <see cref="SimOptions.TickScale"/> (every Raft ratio unchanged); storage sizes scaled to the simulated data volume
    /// (64 KiB segments so runs roll and seal many; checkpoints every 400 or 2,000 entries on two seeds in three, see <see cref="CheckpointEveryEntries"/>,
    /// with retention by size on the first and by age on the second; 256-byte snapshot chunks); the virtual wall clock for storage; and
    /// background segment preparation run inline on the simulator's thread.
    /// </summary>
    private NodeOptions BuildNodeOptions(SimNode node)
    {
        var options = new NodeOptions
        {
            NodeId = (ulong)node.Id,
            GossipAddress = node.Address,
            DataDirectory = "/data",
            GossipSeeds = _nodes.Where(n => n != node).Select(n => n.Address).ToArray(),
            BootstrapExpect = node.Id <= Founders ? Founders : 0,
            InjectedBugs = _options.InjectedBugs,
            GossipKeys = Keyring.ToList(), // used by a node whose data directory holds no keyring yet (first start, wiped)
            GossipNonceSource = NonceSource(node),
        };
        options.TickInterval *= _options.TickScale;
        options.Storage.MaxSegmentBytes = StorageOptions.MinSegmentBytes;
        options.Storage.MaxEntryBytes = SimEntryBytesMax;
        options.Storage.RunInBackground = RunInline;
        options.Storage.TimeProvider = _wallClock;
        options.CheckpointEveryEntries = CheckpointEveryEntries;
        options.SnapshotChunkBytes = SimSnapshotChunkBytes; // snapshots of the simulated state go in several chunks
        options.SnapshotWindowBytes = 4 * SimSnapshotChunkBytes;
        if (CheckpointEveryEntries == 400)
        {
            // Retention on the frequently checkpointing seeds: two segments (128 KiB) behind the newest, so nodes delete
            // segments all the time and a follower that falls behind the leader's first index is sent a snapshot.
            options.Storage.Retention = new RetentionPolicy { MaxBytes = 2 * StorageOptions.MinSegmentBytes };
        }
        else if (CheckpointEveryEntries == 2_000)
        {
            // Retention by age on the occasionally checkpointing seeds: sealed segments last written more than 20 virtual
            // seconds ago go at each checkpoint and at the node's once-a-minute age check, file times from the simulated
            // disk. Deterministic: both clocks are the run's virtual time.
            options.Storage.Retention = new RetentionPolicy { MaxAge = SimMaxAge };
        }

        return options;
    }

    private int Founders => Math.Min(_options.Founders, _options.Nodes);

    /// <summary>
    /// Checkpoint interval by seed, so a sweep covers frequent, occasional and production checkpointing: seeds = 0 (mod 3)
    /// checkpoint every 400 applied entries (dozens per node, most restarts from one), 1 (mod 3) every 2,000, and
    /// 2 (mod 3) run the production 100,000, which a 120-s run never reaches (restarts replay the whole log, as before
    /// checkpoints existed; those seeds' traces are unchanged). Taken from the seed itself, not the random stream.
    /// </summary>
    private ulong CheckpointEveryEntries
    {
        get
        {
            var slot = ((_options.Seed % 3) + 3) % 3;
            return slot switch
            {
                0 => 400,
                1 => 2_000,
                _ => new NodeOptions().CheckpointEveryEntries,
            };
        }
    }

    /// <summary>Snapshot chunk size in the simulator: 256 bytes, so the few-KiB snapshots of a run's sessions take several chunks, each of which the network may drop, delay or cut.</summary>
    private const int SimSnapshotChunkBytes = 256;

    /// <summary>Retention age on seeds = 1 (mod 3): a sixth of the default run, so segments age out several times per run.</summary>
    private static readonly TimeSpan SimMaxAge = TimeSpan.FromSeconds(20);

    /// <summary>Largest entry the simulated workload writes is 4.4 KiB; entries are limited to 16 KiB.</summary>
    private const int SimEntryBytesMax = 16 * 1024;

    private static Task RunInline(Action work)
    {
        work();
        return Task.CompletedTask;
    }

    /// <summary>Resumes a paused node: its loop runs at once (catching up its timers) and then handles what arrived meanwhile.</summary>
    /// <param name="node">The node.</param>
    public void Resume(SimNode node)
    {
        if (!node.Up || !node.Paused)
        {
            return;
        }

        node.Paused = false;
        Trace($"n{node.Id} resumes");
        node.ScheduledRun = TimeSpan.MaxValue;
        ScheduleRun(node, Now);
    }

    /// <summary>The loop scheduler of one process incarnation: a post schedules a loop run once the loop is free.</summary>
    private sealed class SimScheduler(ClusterSimulation sim, SimNode node, int incarnation) : INodeScheduler
    {
        public void Wake()
        {
            if (node.Incarnation == incarnation && node.Up && !node.Paused)
            {
                sim.ScheduleRun(node, sim.Now);
            }
        }
    }

    /// <summary>Text of a time for messages.</summary>
    /// <param name="t">Virtual time.</param>
    /// <returns>Seconds with millisecond precision.</returns>
    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + "s";
}
