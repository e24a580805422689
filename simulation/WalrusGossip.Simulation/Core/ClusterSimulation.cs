using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Membership;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Simulation.Checking;
using WalrusGossip.Simulation.Disk;
using WalrusGossip.Storage;

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

    /// <summary>Entry bytes per AppendEntries message: small, so a lagging follower catches up over several messages.</summary>
    private const ulong MaxAppendBytes = 16 * 1024;

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
            var disk = new SimulatedDisk(new Random(diskSeeds.Next())) { LoseUnsyncedOnCrash = options.Faults.HasFlag(FaultKinds.Disk) };
            _nodes.Add(new SimNode(id, disk));
        }

        _checker = new SafetyChecker(this);
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
        StartFaultSchedule();
        var end = TimeSpan.FromSeconds(_options.SimSeconds);
        while (_violation is null && _queue.TryDequeue(out var e, out _))
        {
            if (_options.Steps is { } steps ? _step >= steps : e.At > end)
            {
                break;
            }

            Now = e.At;
            if (!Dispatch(e))
            {
                continue;
            }

            _step++;
            CheckEventRate();
            if (_violation is null)
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

        Stats.Steps = _step;
        Stats.SimTime = Now;
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

        if (e.Kind == EventKind.Tick)
        {
            if (e.At != node.ScheduledTick || node.Paused)
            {
                return false;
            }

            node.ScheduledTick = TimeSpan.MaxValue;
        }
        else if (node.Paused)
        {
            node.Backlog.Enqueue(e);
            return false;
        }

        _trace?.Line(_step, Now, e.Describe());
        Deliver(node, e);
        return true;
    }

    private void Deliver(SimNode node, SimEvent e)
    {
        var process = node.Process!;
        try
        {
            switch (e.Kind)
            {
                case EventKind.Tick:
                    process.Tick();
                    break;
                case EventKind.Raft:
                    process.ReceiveRaft(e.RaftMessage!);
                    break;
                case EventKind.Gossip:
                    process.ReceiveGossip(e.From!, e.Reliable, e.Payload);
                    break;
                case EventKind.AtNode:
                    e.Run!();
                    break;
            }
        }
        catch (SimulatedCrashException)
        {
            Trace($"n{node.Id} crashed inside a device call");
            MarkDown(node);
            return;
        }
        catch (Exception ex) when (ex is RaftInvariantViolationException or MembershipInvariantViolationException or StorageException or InvalidOperationException or ArgumentException)
        {
            Fail("node-invariant", $"n{node.Id} threw {ex.GetType().Name}: {ex.Message}");
            return;
        }

        if (node.Up)
        {
            ScheduleTick(node);
        }
    }

    /// <summary>Makes sure a tick event exists at the node's next due time.</summary>
    /// <param name="node">An up node.</param>
    public void ScheduleTick(SimNode node)
    {
        var due = node.Process!.NextTickDue;
        if (due < Now)
        {
            due = Now;
        }

        if (due < node.ScheduledTick)
        {
            node.ScheduledTick = due;
            Schedule(new SimEvent { Kind = EventKind.Tick, Node = node.Id, Incarnation = node.Incarnation }, due);
        }
    }

    /// <summary>Starts (or restarts) a node's process on its disk. Corruption found by recovery after an injected bit flip is the expected detection: the byte is repaired and the node started again.</summary>
    /// <param name="node">A down node.</param>
    public void StartNode(SimNode node)
    {
        Debug.Assert(!node.Up, "node already up");
        for (var attempt = 0; attempt < 2; attempt++)
        {
            node.Incarnation++;
            node.Paused = false;
            node.Backlog.Clear();
            node.ScheduledTick = TimeSpan.MaxValue;
            var process = new WalrusNode(
                BuildNodeOptions(node),
                node.Disk.Attach(),
                new SimTransport(this, node, node.Incarnation),
                this,
                new Random(_nodeSeeds.Next()));
            node.Process = process;
            try
            {
                process.Start();
                if (node.PendingFlip is not null)
                {
                    // The flip landed where recovery does not look (past the last record); the checkers judge the data.
                    node.PendingFlip = null;
                }

                if (process.Log.RecoveredTornBytes > 0)
                {
                    Stats.TornTailsRecovered++;
                }

                Trace($"n{node.Id} started incarnation {node.Incarnation} last={process.Log.LastIndex}");
                _checker.NodeStarted(node);
                ScheduleTick(node);
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
            }
            catch (Exception ex) when (ex is StorageException or RaftInvariantViolationException or InvalidOperationException or ArgumentException or IOException)
            {
                node.Process = null;
                Fail("recovery", $"n{node.Id} failed to start: {ex.GetType().Name}: {ex.Message}");
                return;
            }
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

    private void MarkDown(SimNode node)
    {
        node.Process = null;
        node.Paused = false;
        node.Backlog.Clear();
        node.ScheduledTick = TimeSpan.MaxValue;
        node.DownSince = Now;
        Stats.Crashes++;
    }

    private NodeOptions BuildNodeOptions(SimNode node) => new()
    {
        NodeId = (ulong)node.Id,
        GossipAddress = node.Address,
        DataDirectory = "/data",
        InitialVoters = _nodes.Select(n => (ulong)n.Id).ToArray(),
        GossipSeeds = _nodes.Where(n => n != node).Select(n => n.Address).ToArray(),
        Storage = new StorageOptions
        {
            MaxSegmentBytes = StorageOptions.MinSegmentBytes,
            MaxEntryBytes = 16 * 1024,
            Durability = DurabilityPolicy.Always,
        },
        MaxAppendBytes = MaxAppendBytes,
        InjectedBugs = _options.InjectedBugs,
    };

    /// <summary>Resumes a paused node: it ticks (catching up its timers at once) and then handles what arrived meanwhile.</summary>
    /// <param name="node">The node.</param>
    public void Resume(SimNode node)
    {
        if (!node.Up || !node.Paused)
        {
            return;
        }

        node.Paused = false;
        Trace($"n{node.Id} resumes with {node.Backlog.Count} queued events");
        var incarnation = node.Incarnation;
        Schedule(new SimEvent { Kind = EventKind.Tick, Node = node.Id, Incarnation = incarnation }, Now);
        node.ScheduledTick = Now;
        while (node.Backlog.TryDequeue(out var e))
        {
            Schedule(new SimEvent
            {
                Kind = e.Kind, Node = e.Node, Incarnation = e.Incarnation, RaftMessage = e.RaftMessage, From = e.From,
                Reliable = e.Reliable, Payload = e.Payload, Run = e.Run, Label = e.Label,
            }, Now);
        }
    }

    /// <summary>Text of a time for messages.</summary>
    /// <param name="t">Virtual time.</param>
    /// <returns>Seconds with millisecond precision.</returns>
    public static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.000", CultureInfo.InvariantCulture) + "s";
}
