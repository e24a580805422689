namespace WalrusGossip.Raft;

/// <summary>
/// The state a node must persist before any message that depends on it leaves the node (paper Figure 2,
/// "Persistent state on all servers", plus the commit index so a restart does not re-learn it). The store's
/// hard-state file (src/WalrusGossip.Storage, <c>HardStateFile</c>) persists this same type.
/// </summary>
/// <param name="Term">Latest term the node has seen; 0 on first boot.</param>
/// <param name="Vote">Node id voted for in <paramref name="Term"/>, or 0 for none.</param>
/// <param name="Commit">Highest log index known to be committed.</param>
public readonly record struct HardState(ulong Term, ulong Vote, ulong Commit)
{
    /// <summary>The hard state of a node that has never run.</summary>
    public static HardState Empty => default;

    /// <summary>True when every field is zero.</summary>
    public bool IsEmpty => Term == 0 && Vote == 0 && Commit == 0;
}
