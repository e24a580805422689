using WalrusGossip.Membership;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Http;

/// <summary>A consistent picture of the agent, taken on the node loop, for /v1/status, /ready and /metrics.</summary>
/// <param name="Node">The node's Raft and log view.</param>
/// <param name="Members">The SWIM view.</param>
/// <param name="SegmentCount">Segment files in the log.</param>
/// <param name="LogBytes">Bytes of log data.</param>
/// <param name="Addresses">This agent's advertised addresses by name (client, peer, gossip, http).</param>
/// <param name="GroupCommitLatency">Durable group commits (write + fdatasync) since start, by duration (a live, thread-safe view).</param>
public sealed record AgentStatus(NodeStatus Node, IReadOnlyList<MemberSnapshot> Members, int SegmentCount, long LogBytes, IReadOnlyDictionary<string, string> Addresses, GroupCommitHistogram GroupCommitLatency)
{
    /// <summary>Role as the status API spells it: leader, follower, candidate, learner, or removed (an operator removed this node).</summary>
    public string RoleName => Autopilot.Removed ? "removed" : Node.IsLearner ? "learner" : Node.Role switch
    {
        Raft.RaftRole.Leader => "leader",
        Raft.RaftRole.Candidate or Raft.RaftRole.PreCandidate => "candidate",
        _ => "follower",
    };

    /// <summary>Ready: a leader is known and this node has applied everything it knows to be committed.</summary>
    public bool IsReady => Node.LeaderId != 0 && Node.AppliedIndex >= Node.CommitIndex;

    /// <summary>Takes the picture; call on the node loop.</summary>
    /// <param name="node">The node.</param>
    /// <param name="now">Current time of the node's clock.</param>
    /// <param name="addresses">Advertised addresses.</param>
    /// <returns>The status.</returns>
    public static AgentStatus Capture(WalrusNode node, TimeSpan now, IReadOnlyDictionary<string, string> addresses)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new AgentStatus(node.Status, node.GetMembers(), node.LocalLog.SegmentCount, node.LocalLog.DataBytes, addresses, node.LocalLog.GroupCommitLatency)
        {
            Progress = node.GetReplicationProgress(),
            Repair = new RepairCounters(node.IsRepairing, node.DamagedRangesFound, node.EntriesRepaired, node.RepairRequestsSent, node.RepairResponsesRejected,
                node.DamageDroppedBelowCheckpoint, node.DamageReplacedBySnapshot),
            Autopilot = new AutopilotCounters(node.AutopilotVoterRemovals, node.AutopilotLearnerRemovals, node.AutopilotPromotions, node.AutopilotLearnersAdded, node.OperatorMemberChanges, node.IsRemoved) { UncertifiedSkipped = node.AutopilotUncertifiedSkipped },
            Consistency = new ConsistencyCounters(node.ConsistencyChecks, node.ConsistencyRangesCompared, node.ConsistencyMismatches, node.LastConsistencyMismatch),
            Gossip = new GossipCounters(node.GossipKeyIds.Count, node.GossipDroppedPlaintext, node.GossipDroppedUnauthenticated, node.GossipDroppedSealedWithoutKeyring),
            Swim = SwimCounters.Of(node.MembershipCounters),
        };
    }

    /// <summary>On the leader: each other member's match index; empty elsewhere.</summary>
    public IReadOnlyDictionary<ulong, ulong> Progress { get; init; } = new Dictionary<ulong, ulong>();

    /// <summary>Protocol-aware repair of this node's damaged log records.</summary>
    public RepairCounters Repair { get; init; } = new(false, 0, 0, 0, 0, 0, 0);

    /// <summary>Membership changes this node made as leader, and whether an operator removed it.</summary>
    public AutopilotCounters Autopilot { get; init; } = new(0, 0, 0, 0, 0, false);

    /// <summary>Replica consistency checks this node ran as leader.</summary>
    public ConsistencyCounters Consistency { get; init; } = new(0, 0, 0, null);

    /// <summary>The membership layer's own counters (SWIM messages received, dropped by reason, refutations, failed probes).</summary>
    public SwimCounters Swim { get; init; } = new(0, 0, 0, 0, 0, 0, 0, 0, 0);

    /// <summary>Gossip encryption: keys held and messages dropped.</summary>
    public GossipCounters Gossip { get; init; } = new(0, 0, 0, 0);
}

/// <summary>A copy of one node's <see cref="MembershipCounters"/>, taken on the node loop; every value counts since the node started.</summary>
/// <param name="Datagrams">Gossip datagrams received.</param>
/// <param name="Streams">Push-pull stream messages received.</param>
/// <param name="Oversized">Messages dropped for exceeding the datagram or stream limit.</param>
/// <param name="Malformed">Messages dropped as malformed (nothing of them used).</param>
/// <param name="UnknownTypes">Messages of a type this release does not know, skipped.</param>
/// <param name="MetadataTooLarge">Member updates whose metadata exceeded the limit, ignored.</param>
/// <param name="Refutations">Times this node refuted a suspicion of itself (incarnation raised).</param>
/// <param name="FailedProbes">Probes that got no ack, directly or indirectly.</param>
/// <param name="BroadcastsDropped">Queued updates dropped because the broadcast queue was full.</param>
public sealed record SwimCounters(long Datagrams, long Streams, long Oversized, long Malformed, long UnknownTypes, long MetadataTooLarge, long Refutations, long FailedProbes, long BroadcastsDropped)
{
    /// <summary>Copies <paramref name="c"/>.</summary>
    /// <param name="c">The live counters.</param>
    /// <returns>The copy.</returns>
    public static SwimCounters Of(MembershipCounters c)
    {
        ArgumentNullException.ThrowIfNull(c);
        return new(c.DatagramsReceived, c.StreamMessagesReceived, c.OversizedMessages, c.MalformedMessages, c.UnknownMessageTypes, c.MetadataTooLarge, c.Refutations, c.FailedProbes, c.BroadcastsDropped);
    }
}

/// <summary>Gossip encryption counters of one node (see <c>WalrusNode.ChangeGossipKeyring</c>).</summary>
/// <param name="Keys">Keys in the keyring; 0 when gossip is plaintext.</param>
/// <param name="DroppedPlaintext">Plaintext messages dropped while encrypting.</param>
/// <param name="DroppedUnauthenticated">Sealed messages no key authenticated (forged, corrupted, or sealed with a removed key).</param>
/// <param name="DroppedSealedWithoutKeyring">Sealed messages received while this node has no keyring.</param>
public sealed record GossipCounters(int Keys, long DroppedPlaintext, long DroppedUnauthenticated, long DroppedSealedWithoutKeyring);

/// <summary>Replica consistency check counters of one node (see <c>WalrusNode.CheckConsistency</c>).</summary>
/// <param name="Checks">Rounds completed as leader since start.</param>
/// <param name="RangesCompared">Peer ranges compared (equal or not).</param>
/// <param name="Mismatches">Peer ranges whose hash differed from this leader's.</param>
/// <param name="LastMismatch">The last mismatching comparison, or null.</param>
public sealed record ConsistencyCounters(long Checks, long RangesCompared, long Mismatches, ConsistencyPeerResult? LastMismatch);

/// <summary>Autopilot and operator membership counters of one node (see <c>WalrusNode.ManageMembership</c>).</summary>
/// <param name="VoterRemovals">Dead voters removed after the grace period.</param>
/// <param name="LearnerRemovals">Dead learners removed after the grace period.</param>
/// <param name="Promotions">Learners promoted to voter.</param>
/// <param name="LearnersAdded">Agents added as learners.</param>
/// <param name="OperatorChanges">Operator changes (promote, demote, remove) committed.</param>
/// <param name="Removed">True when an operator removed this node from the cluster.</param>
public sealed record AutopilotCounters(long VoterRemovals, long LearnerRemovals, long Promotions, long LearnersAdded, long OperatorChanges, bool Removed)
{
    /// <summary>Gossip members not added as learners because they proved no node certificate naming them (once per member and leadership).</summary>
    public long UncertifiedSkipped { get; init; }
}

/// <summary>Protocol-aware repair counters of one node (see <c>WalrusNode.Repair</c>).</summary>
/// <param name="Repairing">True while a damaged range awaits repair (the node abstains from elections).</param>
/// <param name="DamagedRangesFound">Damaged ranges found since start.</param>
/// <param name="EntriesRepaired">Entries rewritten from verified peer copies since start.</param>
/// <param name="RequestsSent">Repair requests sent.</param>
/// <param name="ResponsesRejected">Repair answers refused (an entry did not hold the expected index or term).</param>
/// <param name="DroppedBelowCheckpoint">Damaged ranges dropped with the log prefix because this node's own checkpoint covered them.</param>
/// <param name="ReplacedByCheckpoint">Damaged ranges the leader had compacted, replaced by the leader's checkpoint.</param>
public sealed record RepairCounters(bool Repairing, long DamagedRangesFound, long EntriesRepaired, long RequestsSent, long ResponsesRejected,
    long DroppedBelowCheckpoint = 0, long ReplacedByCheckpoint = 0);
