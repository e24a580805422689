namespace WalrusGossip.Simulation.Core;

/// <summary>A violated property: what, when, and the evidence.</summary>
/// <param name="Property">Short property name (e.g. "election-safety").</param>
/// <param name="Step">Event number at which the check failed.</param>
/// <param name="SimTime">Virtual time of that event.</param>
/// <param name="Detail">What was observed.</param>
public sealed record Violation(string Property, long Step, TimeSpan SimTime, string Detail);

/// <summary>Counters of one run, reported by <c>run</c> and summed by <c>sweep</c>.</summary>
public sealed class RunStats
{
    /// <summary>Events processed.</summary>
    public long Steps { get; set; }

    /// <summary>Virtual time reached.</summary>
    public TimeSpan SimTime { get; set; }

    /// <summary>Distinct (term, leader) pairs observed.</summary>
    public int Elections { get; set; }

    /// <summary>Partitions started (splits, leader isolations, one-way links).</summary>
    public int Partitions { get; set; }

    /// <summary>Node crashes (including those inside a device call and power losses).</summary>
    public int Crashes { get; set; }

    /// <summary>Node pauses.</summary>
    public int Pauses { get; set; }

    /// <summary>Client appends acknowledged to clients.</summary>
    public long AppendsAcknowledged { get; set; }

    /// <summary>Linearizable reads completed.</summary>
    public long LinearizableReads { get; set; }

    /// <summary>Stale (local) reads checked.</summary>
    public long StaleReads { get; set; }

    /// <summary>Bit flips injected into sealed segments.</summary>
    public int BitFlips { get; set; }

    /// <summary>Bit flips that recovery reported as corruption.</summary>
    public int BitFlipsDetected { get; set; }

    /// <summary>Restarts that truncated a torn tail.</summary>
    public int TornTailsRecovered { get; set; }

    /// <summary>Checkpoints the nodes wrote and adopted (summed over every incarnation).</summary>
    public long Checkpoints { get; set; }

    /// <summary>Snapshots followers installed from a chunked InstallSnapshot transfer (summed over every incarnation).</summary>
    public long SnapshotsInstalled { get; set; }

    /// <summary>Snapshot chunk messages leaders sent, probes and retransmissions included.</summary>
    public long SnapshotChunksSent { get; set; }

    /// <summary>Snapshot transfers that resumed from a position past byte 0.</summary>
    public long SnapshotTransfersResumed { get; set; }

    /// <summary>Age checks between checkpoints that deleted segments (summed over every incarnation; seeds = 1 mod 3 retain by age).</summary>
    public long AgeRetentionPasses { get; set; }

    /// <summary>Chaos windows in which one node's disk reported no free space.</summary>
    public int DiskFullWindows { get; set; }

    /// <summary>Bit flips the start-up scrub found and left on disk for protocol-aware repair from peers.</summary>
    public int BitFlipsLeftForRepair { get; set; }

    /// <summary>Log entries rewritten from verified peer copies (summed over every incarnation).</summary>
    public long EntriesRepaired { get; set; }

    /// <summary>Damaged ranges that every peer had compacted, replaced by the leader's checkpoint (summed over every incarnation).</summary>
    public long DamageReplacedBySnapshot { get; set; }

    /// <summary>Consistency rounds leaders completed (summed over every incarnation; the epilogue's included).</summary>
    public long ConsistencyRounds { get; set; }

    /// <summary>Peer ranges those rounds compared.</summary>
    public long ConsistencyRangesCompared { get; set; }

    /// <summary>Committed records the epilogue rewrote with a valid checksum (0 or 1).</summary>
    public int SilentCorruptions { get; set; }

    /// <summary>Of those, the ones a consistency round reported as a mismatch with the right follower and range.</summary>
    public int SilentCorruptionsFound { get; set; }

    /// <summary>Operator membership changes (promote, demote, remove) that committed.</summary>
    public int OperatorMemberChanges { get; set; }

    /// <summary>Operator membership changes refused (another in flight, not applicable, leader lost).</summary>
    public int OperatorMemberChangesRefused { get; set; }

    /// <summary>Security changes (roles, tokens, grants) the operator's leader applied.</summary>
    public int SecurityChanges { get; set; }

    /// <summary>Entries the durable consumer's instances were handed (first deliveries and redeliveries).</summary>
    public long ConsumerDeliveries { get; set; }

    /// <summary>Of those, deliveries after an ack timeout (or to a new leader's instances again).</summary>
    public long ConsumerRedeliveries { get; set; }

    /// <summary>Consumer entries (create, ack floor) leaders proposed.</summary>
    public long ConsumerEntries { get; set; }

    /// <summary>Highest replicated ack floor of the consumer at the end.</summary>
    public ulong ConsumerAckFloor { get; set; }

    /// <summary>Stale reads of one stream through the stream index.</summary>
    public long StreamReads { get; set; }

    /// <summary>Gossip key rotations (install, use, remove) the operator completed.</summary>
    public int KeyRotations { get; set; }

    /// <summary>Gossip datagrams the impostor (node 99, no node certificate) sent.</summary>
    public int ImpostorDatagrams { get; set; }

    /// <summary>Gossip messages nodes dropped as plaintext or unauthenticated (summed over every incarnation).</summary>
    public long GossipDropped { get; set; }

    /// <summary>Times a leader's autopilot refused to add a gossip member that proved no node certificate.</summary>
    public long UncertifiedMembersRefused { get; set; }

    /// <summary>Members an operator removed that were wiped and started again as new members.</summary>
    public int RemovedNodesWiped { get; set; }

    /// <summary>Dead members autopilot removed (voters and learners, summed over every incarnation).</summary>
    public long AutopilotRemovals { get; set; }

    /// <summary>Learners autopilot promoted to voter.</summary>
    public long AutopilotPromotions { get; set; }

    /// <summary>Node starts that restored the state machine from a checkpoint.</summary>
    public int RestartsFromCheckpoint { get; set; }

    /// <summary>Messages dropped by the network (faults and partitions).</summary>
    public long MessagesDropped { get; set; }

    /// <summary>Longest time from a heal to the first append committed after it, in simulated milliseconds.</summary>
    public double WorstFailoverMs { get; set; }

    /// <summary>Highest committed index seen.</summary>
    public ulong CommittedEntries { get; set; }
}

/// <summary>The outcome of one seed.</summary>
/// <param name="Options">The run's options (replay with <see cref="SimOptions.ReplayCommand"/>).</param>
/// <param name="Violation">The first violated property, or null when every check held.</param>
/// <param name="Stats">Counters.</param>
/// <param name="TraceHash">SHA-256 of the event trace when it was recorded, else null.</param>
/// <param name="WallTime">Wall-clock time the run took.</param>
public sealed record RunResult(SimOptions Options, Violation? Violation, RunStats Stats, string? TraceHash, TimeSpan WallTime)
{
    /// <summary>True when no property was violated.</summary>
    public bool Passed => Violation is null;
}
