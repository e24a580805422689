using WalrusGossip.Node;
using WalrusGossip.Simulation.Disk;

namespace WalrusGossip.Simulation.Core;

/// <summary>The simulator's bookkeeping for one node slot: its disk, its current process (if up) and fault state.</summary>
internal sealed class SimNode(int id, SimulatedDisk disk)
{
    /// <summary>Node id (1-based), also its Raft id.</summary>
    public int Id => id;

    /// <summary>Gossip address.</summary>
    public string Address { get; } = "n" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The node's disk; survives crashes.</summary>
    public SimulatedDisk Disk => disk;

    /// <summary>The running process, null while down.</summary>
    public WalrusNode? Process { get; set; }

    /// <summary>The process's node loop (the same class the agent runs), null while down.</summary>
    public NodeLoop? Loop { get; set; }

    /// <summary>Bumped at every start; events addressed to an older incarnation are dropped.</summary>
    public int Incarnation { get; set; }

    /// <summary>True while the process runs (it may still be paused).</summary>
    public bool Up => Process is not null;

    /// <summary>The voters of the last configuration this node held before it went down (empty before its first run).</summary>
    public IReadOnlyList<ulong> LastVoters { get; set; } = [];

    /// <summary>True while paused: messages and requests wait in the loop's inbox, and the loop does not run.</summary>
    public bool Paused { get; set; }

    /// <summary>Time of the loop-run event currently scheduled (TimeSpan.MaxValue when none).</summary>
    public TimeSpan ScheduledRun { get; set; } = TimeSpan.MaxValue;

    /// <summary>The loop is busy with its last iteration (its writes and fsyncs) until then; a wake-up waits for it.</summary>
    public TimeSpan BusyUntil { get; set; }

    /// <summary>When the node last went down.</summary>
    public TimeSpan DownSince { get; set; }

    /// <summary>Kept down through the current heal window to check that SWIM declares it dead.</summary>
    public bool LongOutage { get; set; }

    /// <summary>A bit flipped while down, to be detected at the next start: file, offset, original byte.</summary>
    public (string Path, long Offset, byte Original)? PendingFlip { get; set; }
}
