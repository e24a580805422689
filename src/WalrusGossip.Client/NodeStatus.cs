namespace WalrusGossip.Client;

/// <summary>One agent's Raft status.</summary>
/// <param name="Endpoint">The client endpoint (<c>host:port</c>) that answered.</param>
/// <param name="NodeId">Raft node id.</param>
/// <param name="Name">Node name.</param>
/// <param name="Role">Current role.</param>
/// <param name="Term">Current term.</param>
/// <param name="CommitIndex">Highest index known to be committed.</param>
/// <param name="AppliedIndex">Highest index applied to the agent's state machine.</param>
/// <param name="FirstIndex">First index still retained.</param>
/// <param name="LastIndex">Last index in the agent's local log (may exceed the commit index).</param>
/// <param name="LeaderId">Known leader's node id, or 0 when none is known.</param>
/// <param name="Addresses">The agent's addresses by kind: <c>client</c>, <c>peer</c>, <c>gossip</c>, <c>http</c>.</param>
/// <param name="Peers">The other cluster members as this agent knows them.</param>
/// <param name="TransportMode">Transport the agent uses: <c>quic</c> or <c>tcp</c>.</param>
/// <param name="AgentVersion">The agent's version string.</param>
public sealed record NodeStatus(
    string Endpoint,
    ulong NodeId,
    string Name,
    NodeRole Role,
    ulong Term,
    ulong CommitIndex,
    ulong AppliedIndex,
    ulong FirstIndex,
    ulong LastIndex,
    ulong LeaderId,
    IReadOnlyDictionary<string, string> Addresses,
    IReadOnlyList<PeerStatus> Peers,
    string TransportMode,
    string AgentVersion)
{
    /// <summary>Replica consistency checks the agent ran as leader since it started (all zero on an agent that never led).</summary>
    public ConsistencySummary Consistency { get; init; } = new(0, 0, 0, 0, 0);

    /// <summary>When the TLS certificate the agent presents expires (it reloads a renewed one on SIGHUP); null when the agent did not say.</summary>
    public DateTimeOffset? CertificateNotAfter { get; init; }
}

/// <summary>An agent's replica consistency checks since it started (see <see cref="WalrusClient.CheckConsistencyAsync"/>).</summary>
/// <param name="Checks">Rounds completed as leader.</param>
/// <param name="Mismatches">Peer ranges whose hash differed from the leader's.</param>
/// <param name="LastMismatchNode">The peer of the last mismatch, or 0.</param>
/// <param name="LastMismatchFirstIndex">First index of the last mismatching range.</param>
/// <param name="LastMismatchLastIndex">Last index of the last mismatching range (inclusive).</param>
public sealed record ConsistencySummary(ulong Checks, ulong Mismatches, ulong LastMismatchNode, ulong LastMismatchFirstIndex, ulong LastMismatchLastIndex);
