using WalrusGossip.Membership;
using WalrusGossip.Storage;

namespace WalrusGossip.Node;

/// <summary>Configuration of one <see cref="WalrusNode"/>.</summary>
public sealed class NodeOptions
{
    /// <summary>This node's Raft id; non-zero, unique in the cluster. Also its gossip member name (decimal).</summary>
    public ulong NodeId { get; set; }

    /// <summary>This node's gossip address as peers reach it (e.g. <c>10.0.0.5:7301</c>).</summary>
    public string GossipAddress { get; set; } = string.Empty;

    /// <summary>Data directory on the node's storage device.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// Founding voters. When the data directory is empty and this is non-empty, the node bootstraps the cluster with
    /// entry 1 holding this configuration; every founding member must be given the same list. Empty: join an
    /// existing cluster and wait to be added.
    /// </summary>
    public IReadOnlyList<ulong> InitialVoters { get; set; } = [];

    /// <summary>Gossip addresses to join through at start (push-pull with a seed, SWIM §4).</summary>
    public IReadOnlyList<string> GossipSeeds { get; set; } = [];

    /// <summary>Length of one Raft tick. Default 100 ms: elections after 1–2 s of silence, heartbeats every 100 ms.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Raft election timeout in ticks (randomised in [n, 2n)). Default 10.</summary>
    public int ElectionTicks { get; set; } = 10;

    /// <summary>Raft heartbeat interval in ticks. Default 1.</summary>
    public int HeartbeatTicks { get; set; } = 1;

    /// <summary>How often the node refreshes its gossip metadata (role, term, commit index). Default 1 s.</summary>
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Membership options.</summary>
    public MembershipOptions Membership { get; set; } = new();

    /// <summary>Storage options. The node forces <see cref="StorageOptions.InlineWrites"/> on: its loop persists each Ready itself.</summary>
    public StorageOptions Storage { get; set; } = new();

    /// <summary>Static gossip metadata to announce (addresses, version), merged with the live Raft fields.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; set; } = new Dictionary<string, string>();

    /// <summary>
    /// When leader, add agents that gossip has found but the configuration lacks as learners, and promote learners to
    /// voters once they have caught up (dissertation §4.2.1). Default false (the simulator runs fixed memberships).
    /// </summary>
    public bool ManageMembership { get; set; }

    /// <summary>
    /// Most entry bytes the leader puts in one AppendEntries message (Raft's <c>MaxAppendBytes</c>); a lagging
    /// follower catches up in several messages. Default 1 MiB. The simulator lowers it so catch-up spans messages
    /// even with its small entries.
    /// </summary>
    public ulong MaxAppendBytes { get; set; } = 1 << 20;

    /// <summary>
    /// Most Readys performed per input before the node returns to its caller, at least 1. A restarted node re-applies
    /// its whole log, and a lagging one applies what it receives, 16 MiB per Ready: without a bound one input could
    /// hold the loop for seconds while client requests wait. Remaining work is reported by
    /// <see cref="WalrusNode.HasPendingWork"/> and done by <see cref="WalrusNode.ProcessPendingWork"/>. Default unbounded
    /// (the simulator's behaviour); the agent uses 4.
    /// </summary>
    public int MaxReadiesPerInput { get; set; } = int.MaxValue;

    /// <summary>
    /// Most committed-entry bytes one Ready hands to the state machine (Raft's <c>MaxCommittedBytesPerReady</c>).
    /// Default 16 MiB; the agent uses 2 MiB so a node re-applying or catching up a long log holds less memory at once
    /// and returns to its loop (ticks, heartbeats, clients) more often.
    /// </summary>
    public ulong MaxCommittedBytesPerReady { get; set; } = 16 << 20;

    /// <summary>Deliberate protocol bugs, for the simulator to prove its checkers catch them. Empty in production.</summary>
    public IReadOnlySet<string> InjectedBugs { get; set; } = new HashSet<string>();
}
