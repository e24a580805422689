namespace WalrusGossip.Client;

/// <summary>One member of an agent's SWIM view.</summary>
/// <param name="Name">Member name.</param>
/// <param name="Address">Gossip address (<c>host:port</c>).</param>
/// <param name="State">Alive, suspect, dead or left.</param>
/// <param name="Incarnation">Incarnation number; a member raises it to refute a suspicion.</param>
/// <param name="Metadata">Versioned metadata: addresses, Raft role, term, commit index, disk use and so on.</param>
/// <param name="LastUpdateAge">Time since the member's state last changed, as seen by the answering agent.</param>
public sealed record ClusterMember(
    string Name,
    string Address,
    MemberState State,
    ulong Incarnation,
    IReadOnlyDictionary<string, string> Metadata,
    TimeSpan LastUpdateAge);
