namespace WalrusGossip.Raft;

/// <summary>How linearizable reads are confirmed (dissertation §6.4).</summary>
public enum ReadConsistency
{
    /// <summary>ReadIndex: the leader confirms it is still leader with a heartbeat round to a quorum before answering. Safe under any clock behaviour.</summary>
    ReadIndex = 0,

    /// <summary>
    /// Lease: the leader answers at once, trusting that no other leader can exist while its lease lasts.
    /// Requires <see cref="RaftOptions.CheckQuorum"/>. Assumes clock drift between nodes is bounded: every
    /// follower's ticks run no more than (<see cref="RaftOptions.ElectionTicks"/> / <see cref="RaftOptions.HeartbeatTicks"/>)
    /// heartbeat intervals faster than the leader's, so a follower never abandons a leader before that leader
    /// has stepped down through CheckQuorum. A GC pause or suspended VM on the leader breaks the assumption,
    /// which is why this option is off by default.
    /// </summary>
    Lease = 1,
}

/// <summary>Configuration of one <see cref="RaftNode"/>. Time is counted in ticks: the application calls <see cref="RaftNode.Tick"/> at a fixed interval.</summary>
public sealed class RaftOptions
{
    /// <summary>This node's id; non-zero and unique in the cluster. Required.</summary>
    public ulong Id { get; init; }

    /// <summary>
    /// The seeded random source for election timeouts (paper §5.2). Required: the core never uses shared
    /// randomness, so a run replays from its seed. Use <see cref="SeededRaftRandom"/>.
    /// </summary>
    public IRaftRandom? Random { get; init; }

    /// <summary>
    /// Election timeout in ticks, at least 2 and more than <see cref="HeartbeatTicks"/>. Default 10. A follower
    /// that hears nothing from a leader for a random number of ticks in [ElectionTicks, 2 × ElectionTicks)
    /// campaigns (paper §5.2). Also the CheckQuorum period of a leader.
    /// </summary>
    public int ElectionTicks { get; init; } = 10;

    /// <summary>Ticks between leader heartbeats; at least 1, less than <see cref="ElectionTicks"/>. Default 1.</summary>
    public int HeartbeatTicks { get; init; } = 1;

    /// <summary>Use PreVote (dissertation §9.6) so a rejoining node cannot disrupt a stable leader. Default true.</summary>
    public bool PreVote { get; init; } = true;

    /// <summary>
    /// A leader that has not heard from a quorum within <see cref="ElectionTicks"/> steps down; followers that heard from
    /// a leader within the election timeout ignore vote requests (dissertation §6.2, §4.2.3). Default true.
    /// </summary>
    public bool CheckQuorum { get; init; } = true;

    /// <summary>How reads are confirmed. Default <see cref="ReadConsistency.ReadIndex"/>; <see cref="ReadConsistency.Lease"/> requires <see cref="CheckQuorum"/>.</summary>
    public ReadConsistency ReadConsistency { get; init; } = ReadConsistency.ReadIndex;

    /// <summary>Upper bound on the entry bytes (<see cref="LogEntry.SizeBytes"/>) of one AppendEntries message; at least one entry is always sent. Default 1 MiB.</summary>
    public ulong MaxAppendBytes { get; init; } = 1 << 20;

    /// <summary>Maximum unacknowledged AppendEntries messages per follower in pipelined replication; at least 1. Default 256.</summary>
    public int MaxInflightMessages { get; init; } = 256;

    /// <summary>Maximum unacknowledged entry bytes per follower; 0 means no byte limit. Default 32 MiB.</summary>
    public ulong MaxInflightBytes { get; init; } = 32 << 20;

    /// <summary>Maximum payload bytes of one proposed entry; larger proposals are refused. Default 4 MiB.</summary>
    public int MaxEntryPayloadBytes { get; init; } = 4 << 20;

    /// <summary>Maximum bytes of entries the leader has appended but not yet committed; further proposals are refused as overloaded. Default 64 MiB.</summary>
    public ulong MaxUncommittedBytes { get; init; } = 64 << 20;

    /// <summary>Maximum bytes of committed entries handed out in one <see cref="Ready"/>; at least one entry. Default 16 MiB.</summary>
    public ulong MaxCommittedBytesPerReady { get; init; } = 16 << 20;

    /// <summary>Maximum outstanding ReadIndex requests on a leader; more are refused. Default 4096.</summary>
    public int MaxPendingReads { get; init; } = 4096;

    /// <summary>
    /// Highest index the application had applied before this start (for example, from its checkpoint).
    /// Committed entries above it are handed out again. 0 means the storage's snapshot index. Default 0.
    /// </summary>
    public ulong AppliedIndex { get; init; }

    /// <summary>
    /// Deliberate protocol bugs, only for the deterministic simulator to prove its checkers detect them: any of
    /// <c>commit-previous-term</c> (count replicas for an older-term entry, breaking §5.4.2), <c>double-vote</c>
    /// (grant a second vote in one term), <c>skip-truncate-on-conflict</c> (a follower keeps a conflicting suffix).
    /// Empty in production. Default empty.
    /// </summary>
    public IReadOnlySet<string> InjectedBugs { get; init; } = new HashSet<string>();

    /// <summary>Names accepted in <see cref="InjectedBugs"/>.</summary>
    public static IReadOnlyList<string> KnownBugs { get; } = ["commit-previous-term", "double-vote", "skip-truncate-on-conflict"];

    internal void Validate()
    {
        if (Id == 0)
        {
            throw new ArgumentException("Id must be non-zero.", nameof(Id));
        }

        if (Random is null)
        {
            throw new ArgumentException("A seeded Random must be provided.", nameof(Random));
        }

        if (HeartbeatTicks < 1 || ElectionTicks <= HeartbeatTicks || ElectionTicks < 2)
        {
            throw new ArgumentException("Need 1 <= HeartbeatTicks < ElectionTicks and ElectionTicks >= 2.", nameof(ElectionTicks));
        }

        if (MaxInflightMessages < 1 || MaxPendingReads < 1 || MaxEntryPayloadBytes < 0)
        {
            throw new ArgumentException("MaxInflightMessages and MaxPendingReads must be at least 1, MaxEntryPayloadBytes non-negative.", nameof(MaxInflightMessages));
        }

        if (ReadConsistency == ReadConsistency.Lease && !CheckQuorum)
        {
            throw new ArgumentException("Lease reads require CheckQuorum.", nameof(ReadConsistency));
        }
    }
}
