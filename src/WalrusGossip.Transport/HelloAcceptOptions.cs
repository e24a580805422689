using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport;

/// <summary>What an accepting port checks in a <see cref="Hello"/> (see <see cref="HelloHandshake.AcceptAsync"/>).</summary>
public sealed class HelloAcceptOptions
{
    /// <summary>This agent's Raft node id, sent back in the acknowledgement.</summary>
    public ulong LocalNodeId { get; init; }

    /// <summary>This agent's cluster id. When non-empty, a hello naming another cluster is refused, and peers must name it. Default empty.</summary>
    public string ClusterId { get; init; } = "";

    /// <summary>Roles accepted on this port: clients on the client port, peers on the peer port. Default: client only.</summary>
    public IReadOnlyCollection<ConnectionRole> AllowedRoles { get; init; } = [ConnectionRole.Client];

    /// <summary>
    /// When true, a peer whose TLS certificate names no node id (<see cref="NodeIdentity"/>) is refused. A peer whose
    /// certificate names another id than its Hello is refused either way. Default false, so certificates made before
    /// node ids were embedded keep working; turn it on once every node certificate carries its id.
    /// </summary>
    public bool RequirePeerNodeIdInCertificate { get; init; }

    /// <summary>
    /// Checks a client's credentials after the other checks passed: given its Hello and TLS client certificate (null
    /// when it sent none), returns null to accept or the reason to refuse it as
    /// <see cref="Protocol.ProtocolErrorKind.Unauthenticated"/>. Null (the default): every client is accepted.
    /// </summary>
    public Func<Hello, System.Security.Cryptography.X509Certificates.X509Certificate2?, string?>? AuthenticateClient { get; init; }
}
