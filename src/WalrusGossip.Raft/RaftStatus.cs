namespace WalrusGossip.Raft;

/// <summary>A snapshot of a node's state for diagnostics and routing.</summary>
/// <param name="Id">This node's id.</param>
/// <param name="Role">Current role.</param>
/// <param name="Term">Current term.</param>
/// <param name="Vote">Vote in the current term, 0 if none.</param>
/// <param name="Leader">Known leader, 0 if none.</param>
/// <param name="Commit">Commit index.</param>
/// <param name="Applied">Applied index (as acknowledged through <see cref="RaftNode.Advance"/>).</param>
/// <param name="LastIndex">Last log index.</param>
/// <param name="Config">Current membership: the latest configuration in the log (dissertation §4.1).</param>
public readonly record struct RaftStatus(
    ulong Id, RaftRole Role, ulong Term, ulong Vote, ulong Leader, ulong Commit, ulong Applied, ulong LastIndex, ClusterConfig Config);
