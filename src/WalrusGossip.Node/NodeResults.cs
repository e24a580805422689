using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>How a client request ended.</summary>
public enum RequestStatus
{
    /// <summary>Done: for an append, the entry is committed at <see cref="AppendResult.Index"/>.</summary>
    Ok,

    /// <summary>This node is not the leader; retry at <see cref="AppendResult.LeaderId"/> (0 when unknown).</summary>
    NotLeader,

    /// <summary>The proposal was lost (leadership changed before it committed); retry with the same sequence.</summary>
    Retry,

    /// <summary>The client's session no longer remembers that sequence (dissertation §6.3).</summary>
    SessionExpired,

    /// <summary>The node's queues are full; back off and retry.</summary>
    Overloaded,

    /// <summary>The request is malformed (e.g. payload above the limit).</summary>
    InvalidArgument,

    /// <summary>The node's disk has less free space than <c>StorageOptions.ReserveBytes</c>; retry after space is freed (or at another leader).</summary>
    NoSpace,

    /// <summary>No answer came in time (for example a read barrier whose request was lost on the way to the leader); retry.</summary>
    Timeout,

    /// <summary>The named object (a durable consumer) does not exist.</summary>
    NotFound,
}

/// <summary>Outcome of <see cref="WalrusNode.Append"/>.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="Index">Committed index when <see cref="RequestStatus.Ok"/>; for a retried append, the original index.</param>
/// <param name="Term">Term of the committed entry, when known.</param>
/// <param name="LeaderId">Known leader for <see cref="RequestStatus.NotLeader"/>; 0 when unknown.</param>
/// <param name="StreamSequence">The entry's per-stream sequence when it names a stream (<see cref="StreamIndex"/>), else 0; also 0 for a retried append whose first copy retention has already removed.</param>
public readonly record struct AppendResult(RequestStatus Status, ulong Index, ulong Term, ulong LeaderId, ulong StreamSequence = 0);

/// <summary>Outcome of <see cref="WalrusNode.ReadBarrier"/>.</summary>
/// <param name="Status">How it ended.</param>
/// <param name="ReadIndex">Entries up to this index may be read locally and are linearizable (ReadIndex, dissertation §6.4).</param>
/// <param name="LeaderId">Known leader when not <see cref="RequestStatus.Ok"/>.</param>
public readonly record struct ReadResult(RequestStatus Status, ulong ReadIndex, ulong LeaderId);

/// <summary>A node's view of itself for status pages and checkers.</summary>
/// <param name="NodeId">Node id.</param>
/// <param name="Role">Raft role.</param>
/// <param name="Term">Current term.</param>
/// <param name="LeaderId">Known leader, 0 when none.</param>
/// <param name="CommitIndex">Highest index known committed.</param>
/// <param name="AppliedIndex">Highest index applied to the state machine.</param>
/// <param name="FirstIndex">First index retained in the local log.</param>
/// <param name="LastIndex">Last index in the local log.</param>
/// <param name="IsLearner">True when this node is a learner in its configuration.</param>
/// <param name="Voters">Voters of the configuration this node follows.</param>
/// <param name="Learners">Learners of that configuration.</param>
public readonly record struct NodeStatus(ulong NodeId, RaftRole Role, ulong Term, ulong LeaderId, ulong CommitIndex, ulong AppliedIndex, ulong FirstIndex, ulong LastIndex, bool IsLearner, IReadOnlyList<ulong> Voters, IReadOnlyList<ulong> Learners);

/// <summary>A node's log as retention sees it (see <see cref="WalrusNode.GetRetentionInfo"/>).</summary>
/// <param name="FirstIndex">First retained index; reads below it are compacted.</param>
/// <param name="LastIndex">Last index in the local log.</param>
/// <param name="CheckpointIndex">Newest checkpoint in force, 0 before the first.</param>
/// <param name="AppliedIndex">Applied index.</param>
/// <param name="DataBytes">Record bytes held by the segments.</param>
/// <param name="Policy">The retention limits.</param>
/// <param name="Checkpointing">True while a checkpoint file is being written.</param>
public sealed record LogRetentionInfo(ulong FirstIndex, ulong LastIndex, ulong CheckpointIndex, ulong AppliedIndex, long DataBytes, Storage.RetentionPolicy Policy, bool Checkpointing);

/// <summary>Where a backup starts and ends (see <see cref="WalrusNode.GetBackupHead"/>).</summary>
/// <param name="Checkpoint">The checkpoint in force: state machine at its index, with term and configuration; <see cref="RaftSnapshot.Empty"/> before the first.</param>
/// <param name="FirstIndex">First retained index: the backup's first entry.</param>
/// <param name="UpToIndex">Applied index: the backup's last entry.</param>
public sealed record BackupHead(RaftSnapshot Checkpoint, ulong FirstIndex, ulong UpToIndex);

/// <summary>Outcome of <see cref="WalrusNode.ChangeMembership"/>.</summary>
/// <param name="Status">How it ended (see <see cref="WalrusNode.ChangeMembership"/>).</param>
/// <param name="Index">Index of the applied configuration entry when <see cref="RequestStatus.Ok"/>; else 0.</param>
/// <param name="LeaderId">The leader when known (this node when it answered as leader); 0 when unknown.</param>
/// <param name="Message">Human-readable detail.</param>
/// <param name="Config">The configuration this node follows as of the answer.</param>
public sealed record MemberChangeResult(RequestStatus Status, ulong Index, ulong LeaderId, string Message, ClusterConfig Config);
