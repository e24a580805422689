using WalrusGossip.Membership;
using WalrusGossip.Storage;

namespace WalrusGossip.Node;

/// <summary>
/// Configuration of one <see cref="WalrusNode"/>. The defaults are the production preset: <c>walrus-agent</c> runs
/// them (its configuration can override the Raft timings and the storage settings), and <c>walrus-sim</c> runs them
/// too, changing only what it must to fit simulated time and data (see <c>docs/architecture.md</c>, "The simulator").
/// </summary>
public sealed class NodeOptions
{
    /// <summary>Production tick length: 10 ms.</summary>
    public static readonly TimeSpan DefaultTickInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Production election timeout: 50 ticks (0.5-1 s at 10 ms).</summary>
    public const int DefaultElectionTicks = 50;

    /// <summary>Production heartbeat interval: 5 ticks (50 ms at 10 ms).</summary>
    public const int DefaultHeartbeatTicks = 5;

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

    /// <summary>
    /// Agents that must be found through gossip before this node bootstraps a new cluster with them (Consul's
    /// <c>bootstrap-expect</c>); 0 to only join an existing cluster. While its store is empty, the node waits until
    /// gossip shows this many alive members announcing the same value (metadata <see cref="MetadataKeys.BootstrapExpect"/>),
    /// then every one of them bootstraps with the same voter set: the lowest ids among them. A node never bootstraps
    /// once another alive member announces a commit index above 0 (a cluster exists: a wiped or new node waits for its
    /// leader to catch it up, by snapshot if need be). Ignored when <see cref="InitialVoters"/> is set.
    /// </summary>
    public int BootstrapExpect { get; set; }

    /// <summary>Length of one Raft tick. Default <see cref="DefaultTickInterval"/> (10 ms).</summary>
    public TimeSpan TickInterval { get; set; } = DefaultTickInterval;

    /// <summary>Raft election timeout in ticks (randomised in [n, 2n)). Default <see cref="DefaultElectionTicks"/> (50).</summary>
    public int ElectionTicks { get; set; } = DefaultElectionTicks;

    /// <summary>Raft heartbeat interval in ticks. Default <see cref="DefaultHeartbeatTicks"/> (5).</summary>
    public int HeartbeatTicks { get; set; } = DefaultHeartbeatTicks;

    /// <summary>How often the node refreshes its gossip metadata (role, term, commit index). Default 1 s.</summary>
    public TimeSpan MetadataRefreshInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Membership options.</summary>
    public MembershipOptions Membership { get; set; } = new();

    /// <summary>
    /// Storage options. The node forces <see cref="StorageOptions.InlineWrites"/> on: its loop persists each Ready
    /// itself. Default: the storage defaults (64 MiB segments, 4 MiB entries, fsync always) with
    /// <see cref="StorageOptions.PrepareSegmentsInBackground"/> on.
    /// </summary>
    public StorageOptions Storage { get; set; } = new() { PrepareSegmentsInBackground = true };

    /// <summary>Static gossip metadata to announce (addresses, version), merged with the live Raft fields.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; set; } = new Dictionary<string, string>();

    /// <summary>
    /// Autopilot (after Consul's): when leader, add agents that gossip has found but the configuration lacks as
    /// learners, promote caught-up learners while there are fewer than <see cref="TargetVoters"/> voters
    /// (dissertation §4.2.1), and replace voters that SWIM has held dead for <see cref="DeadServerGrace"/>. One change
    /// at a time. Default true.
    /// </summary>
    public bool ManageMembership { get; set; } = true;

    /// <summary>
    /// The number of voters autopilot keeps (agent key <c>Cluster:Voters</c>): further agents stay learners, which
    /// replicate the log and serve stale and forwarded reads but never vote. Default 3; 1 to 9. Operators can still
    /// promote beyond it by hand.
    /// </summary>
    public int TargetVoters { get; set; } = 3;

    /// <summary>
    /// How long SWIM must have held a member dead (or left) before autopilot removes it from the configuration
    /// (agent key <c>Cluster:DeadServerGrace</c>). A voter is removed only when at least a majority of
    /// <see cref="TargetVoters"/> voters remain. Default 30 s; <see cref="TimeSpan.Zero"/> disables removal.
    /// </summary>
    public TimeSpan DeadServerGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How often the leader compares a hash of committed entries with every peer (agent key
    /// <c>Cluster:ConsistencyCheckInterval</c>; see <see cref="WalrusNode.CheckConsistency"/>). Each round covers the next
    /// <see cref="ConsistencyCheckEntries"/> committed entries after the previous round's, wrapping to the first retained
    /// index, so the whole retained log is covered in turn. Default 30 s; <see cref="TimeSpan.Zero"/> disables the
    /// periodic check (the on-demand one still works).
    /// </summary>
    public TimeSpan ConsistencyCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Most entries one consistency round hashes (agent key <c>Cluster:ConsistencyCheckEntries</c>). Both sides read
    /// them on their node loop, so this bounds the pause a round costs (4,096 entries of 1 KiB take about 2 ms from the
    /// page cache). Default 4,096; 1 to <see cref="WalrusNode.MaxConsistencyCheckEntries"/>.
    /// </summary>
    public int ConsistencyCheckEntries { get; set; } = 4096;

    /// <summary>
    /// Gossip encryption keys (AES-GCM, 16, 24 or 32 bytes each; agent key <c>Gossip:Keys</c>, base64), the first one
    /// primary. Used at start when the data directory holds no keyring yet; after that the persisted keyring (changed at
    /// runtime by <see cref="WalrusNode.ChangeGossipKeyring"/>) wins. Empty (the default): gossip is plaintext.
    /// </summary>
    public IReadOnlyList<byte[]> GossipKeys { get; set; } = [];

    /// <summary>
    /// Where the gossip keyring draws its AES-GCM nonce prefixes (<see cref="GossipKeyring"/>). Null (the default, and
    /// what the agent uses): the operating system's cryptographic generator, so two processes sealing under one key never
    /// pick the same prefix by a shared seed. The simulator passes a seeded generator of its own, keeping runs
    /// reproducible without drawing from the node's random.
    /// </summary>
    public Random? GossipNonceSource { get; set; }

    /// <summary>
    /// Most entry bytes the leader puts in one AppendEntries message (Raft's <c>MaxAppendBytes</c>); a lagging
    /// follower catches up in several messages. Default 1 MiB.
    /// </summary>
    public ulong MaxAppendBytes { get; set; } = 1 << 20;

    /// <summary>
    /// Most Readys performed per input before the node returns to its caller, at least 1. A restarted node re-applies
    /// its whole log, and a lagging one applies what it receives, up to <see cref="MaxCommittedBytesPerReady"/> per Ready: without a bound one input could
    /// hold the loop for seconds while client requests wait. Remaining work is reported by
    /// <see cref="WalrusNode.HasPendingWork"/> and done by <see cref="WalrusNode.ProcessPendingWork"/> (the node loop
    /// does one slice per iteration). Default 4.
    /// </summary>
    public int MaxReadiesPerInput { get; set; } = 4;

    /// <summary>
    /// Most committed-entry bytes one Ready hands to the state machine (Raft's <c>MaxCommittedBytesPerReady</c>).
    /// Default 2 MiB, so a node re-applying or catching up a long log holds little memory at once and returns to its
    /// loop (ticks, heartbeats, clients) often.
    /// </summary>
    public ulong MaxCommittedBytesPerReady { get; set; } = 2 << 20;

    /// <summary>
    /// Take a checkpoint (the state machine's snapshot with its applied index, term and configuration, see
    /// <see cref="WalrusNode.CheckpointIndex"/>) once this many entries were applied since the last one. Default
    /// 100,000 (etcd's snapshot count). At least 1.
    /// </summary>
    public ulong CheckpointEveryEntries { get; set; } = 100_000;

    /// <summary>
    /// Take a checkpoint once this many entry payload bytes were applied since the last one, whichever of this and
    /// <see cref="CheckpointEveryEntries"/> comes first. Default 256 MiB. At least 1.
    /// </summary>
    public ulong CheckpointEveryBytes { get; set; } = 256UL << 20;

    /// <summary>
    /// Most snapshot bytes in one InstallSnapshot chunk message (Raft paper §7, Figure 13). Default 1 MiB. The agent
    /// keeps it below the transport's frame limit (<c>Transport:MaxFrameBytes</c>, at most half of it); at least 256 bytes.
    /// </summary>
    public int SnapshotChunkBytes { get; set; } = 1 << 20;

    /// <summary>
    /// Most unacknowledged snapshot bytes in flight to one follower: the transfer's share of that follower's flow
    /// control (Raft sends it no entries while a snapshot is pending). Default 4 MiB; at least <see cref="SnapshotChunkBytes"/>.
    /// </summary>
    public int SnapshotWindowBytes { get; set; } = 4 << 20;

    /// <summary>Time without progress before a snapshot transfer retransmits from the last acknowledged byte. Default 2 s.</summary>
    public TimeSpan SnapshotChunkTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Largest snapshot a follower accepts, in bytes. Default 1 GiB; at most <see cref="Array.MaxLength"/>.</summary>
    public long MaxSnapshotBytes { get; set; } = 1L << 30;

    /// <summary>
    /// Deliberate bugs, for the simulator to prove its checkers catch them: the Raft ones (<c>RaftOptions.KnownBugs</c>),
    /// <c>ack-before-fsync</c> (durability none) and <c>truncate-past-checkpoint</c> (retention deletes entries no
    /// checkpoint covers), <c>blind-consistency-hash</c> (the consistency check hashes indexes and terms but not
    /// payloads), <c>checkpoint-drops-security</c> (state-machine snapshots leave out the security policy) and
    /// <c>uncertified-learner</c> (autopilot adds gossip members as learners without <see cref="INodeTransport.IsPeerCertified"/>)
    /// <c>duplicate-takes-stream-sequence</c> (a duplicate copy of a retried append is numbered in its stream) and
    /// <c>floor-skips-unacked</c> (a consumer's floor jumps to the highest acknowledged sequence, over entries still unacknowledged).
    /// Empty in production.
    /// </summary>
    public IReadOnlySet<string> InjectedBugs { get; set; } = new HashSet<string>();
}
