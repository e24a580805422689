namespace WalrusGossip.Membership;

/// <summary>
/// One member as the local node sees it, for diagnostics (<see cref="MembershipNode.GetSnapshot"/>).
/// </summary>
/// <param name="Name">Member name.</param>
/// <param name="Address">Gossip address.</param>
/// <param name="State">Alive, suspect, dead or left.</param>
/// <param name="Incarnation">Highest incarnation seen for the member.</param>
/// <param name="Metadata">Metadata at that incarnation.</param>
/// <param name="LastUpdateAge">Time since the local node last changed this entry (virtual time, ≥ 0).</param>
/// <param name="IsLocal">True for the node's own entry.</param>
public readonly record struct MemberSnapshot(
    string Name,
    string Address,
    MemberState State,
    ulong Incarnation,
    IReadOnlyDictionary<string, string> Metadata,
    TimeSpan LastUpdateAge,
    bool IsLocal);
