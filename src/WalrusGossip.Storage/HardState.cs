namespace WalrusGossip.Storage;

/// <summary>
/// Raft's persistent state (paper Figure 2): the current term, the candidate voted for in it, and the commit index.
/// Term and vote must be durable before any message that depends on them leaves the node.
/// </summary>
/// <param name="Term">Latest term the node has seen; 0 on first boot.</param>
/// <param name="Vote">Node id voted for in <paramref name="Term"/>; 0 when none.</param>
/// <param name="Commit">Highest index known committed; may lag the leader's.</param>
public readonly record struct HardState(ulong Term, ulong Vote, ulong Commit);
