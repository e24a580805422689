namespace WalrusGossip.Client;

/// <summary>What an agent knows about another member of the Raft cluster.</summary>
/// <param name="NodeId">Raft node id.</param>
/// <param name="Name">Node name.</param>
/// <param name="Role">Role as far as the reporting agent knows.</param>
/// <param name="MatchIndex">Highest index known to be replicated on the peer (filled in by the leader only, else 0).</param>
/// <param name="NextIndex">Next index the leader sends the peer (leader only, else 0).</param>
/// <param name="Voter">True when the peer votes.</param>
/// <param name="Addresses">Addresses by kind: <c>client</c>, <c>peer</c>, <c>gossip</c>, <c>http</c>.</param>
public sealed record PeerStatus(
    ulong NodeId,
    string Name,
    NodeRole Role,
    ulong MatchIndex,
    ulong NextIndex,
    bool Voter,
    IReadOnlyDictionary<string, string> Addresses);
