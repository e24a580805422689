using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Node;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Who a client connection is, as established by its Hello.</summary>
/// <param name="Kind"><c>cert</c> (a client certificate), <c>token</c> (a bearer token), <c>node</c> (another agent
/// forwarding for a client it authorized), or <c>anonymous</c> (only where authentication is not required).</param>
/// <param name="Name">Certificate identity, token name, node id, or empty.</param>
/// <param name="TokenHash">SHA-256 of the token; looked up again at every request, so a revoked token stops at once.</param>
public sealed record ClientPrincipal(string Kind, string Name, byte[]? TokenHash)
{
    /// <summary><c>kind:name</c>, as logs and <c>walrusctl auth whoami</c> show it.</summary>
    public override string ToString() => Name.Length == 0 ? Kind : $"{Kind}:{Name}";
}

/// <summary>
/// Client authentication and authorization on the client port (etcd's model: mutual TLS identities and tokens, roles
/// with permissions kept in the replicated state). A client proves who it is with a certificate from the cluster CA
/// (identity: the SAN URI <c>walrus://client/NAME</c>, else the subject's common name) or a bearer token in its Hello.
/// Each request then needs a permission of one of the caller's roles (<see cref="SecurityPolicy.Allows"/>), read from
/// the policy this agent has applied. Identities in <c>Security:AdminIdentities</c> always hold the admin role (the
/// bootstrap: <c>dev-cluster</c> and <c>walrusctl certs init</c> issue an <c>admin</c> client certificate). Another
/// agent's node certificate may append, read and tail (it forwards for clients it authorized itself).
/// </summary>
public sealed class ClientAuthorizer
{
    /// <summary>Prefix of the SAN URI naming a client identity.</summary>
    public const string ClientUriPrefix = NodeIdentity.ClientUriPrefix;

    private readonly HashSet<string> _admins;
    private readonly Func<SecurityPolicy> _policy;

    /// <summary>Creates the authorizer.</summary>
    /// <param name="required">True: a client without a valid certificate or token is refused at Hello.</param>
    /// <param name="adminIdentities">Certificate identities that always hold the admin role.</param>
    /// <param name="policy">The policy this agent has applied (read at every request).</param>
    public ClientAuthorizer(bool required, IEnumerable<string> adminIdentities, Func<SecurityPolicy> policy)
    {
        Required = required;
        _admins = new HashSet<string>(adminIdentities, StringComparer.Ordinal);
        _policy = policy;
    }

    /// <summary>Whether authentication is required.</summary>
    public bool Required { get; }

    /// <summary>The Hello check (<see cref="HelloAcceptOptions.AuthenticateClient"/>): null to accept, else why not.</summary>
    /// <param name="hello">The client's Hello.</param>
    /// <param name="certificate">Its verified TLS certificate, or null.</param>
    /// <returns>The refusal reason, or null.</returns>
    public string? Authenticate(Hello hello, X509Certificate2? certificate)
    {
        ArgumentNullException.ThrowIfNull(hello);
        if (hello.Token.Length > 0)
        {
            return _policy().FindToken(SecurityPolicy.HashSecret(hello.Token)) is null ? "unknown or revoked token" : null;
        }

        return Required && certificate is null
            ? "authentication required: present a client certificate from the cluster CA or a token (walrusctl --cert/--key or --token)"
            : null;
    }

    /// <summary>The principal of an accepted Hello.</summary>
    /// <param name="hello">The client's Hello.</param>
    /// <param name="certificate">Its verified TLS certificate, or null.</param>
    /// <returns>The principal.</returns>
    public ClientPrincipal Identify(Hello hello, X509Certificate2? certificate)
    {
        ArgumentNullException.ThrowIfNull(hello);
        if (hello.Token.Length > 0)
        {
            var hash = SecurityPolicy.HashSecret(hello.Token);
            return new ClientPrincipal("token", _policy().FindToken(hash)?.Name ?? "?", hash);
        }

        if (certificate is null)
        {
            return new ClientPrincipal("anonymous", "", null);
        }

        if (NodeIdentity.TryGetNodeId(certificate, out var nodeId))
        {
            return new ClientPrincipal("node", nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture), null);
        }

        return new ClientPrincipal("cert", CertificateIdentity(certificate), null);
    }

    /// <summary>The identity a client certificate names: its <c>walrus://client/NAME</c> SAN URI, else its common name.</summary>
    /// <param name="certificate">A client certificate.</param>
    /// <returns>The name (possibly empty).</returns>
    public static string CertificateIdentity(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        foreach (var uri in NodeIdentity.SanUris(certificate))
        {
            if (uri.StartsWith(ClientUriPrefix, StringComparison.Ordinal))
            {
                return uri[ClientUriPrefix.Length..];
            }
        }

        return certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
    }

    /// <summary>The roles <paramref name="principal"/> holds now.</summary>
    /// <param name="principal">A connection's principal.</param>
    /// <returns>Role names. Where authentication is off, every caller without a token holds <see cref="SecurityPolicy.AdminRole"/>
    /// (as before authorization existed); a token always holds exactly its roles.</returns>
    public IReadOnlyList<string> RolesOf(ClientPrincipal principal)
    {
        ArgumentNullException.ThrowIfNull(principal);
        var policy = _policy();
        return principal.Kind switch
        {
            "token" => policy.FindToken(principal.TokenHash!)?.Roles ?? [],
            "cert" or "anonymous" when !Required => [SecurityPolicy.AdminRole], // authentication off: only tokens are restricted
            "cert" when _admins.Contains(principal.Name) => [SecurityPolicy.AdminRole, .. policy.RolesOf(principal.Name)],
            "cert" => policy.RolesOf(principal.Name),
            _ => [],
        };
    }

    /// <summary>Whether <paramref name="principal"/> may do what needs <paramref name="permission"/> on <paramref name="stream"/>.</summary>
    /// <param name="principal">A connection's principal.</param>
    /// <param name="permission">One permission.</param>
    /// <param name="stream">The stream the request names, or null (the whole log).</param>
    /// <returns>True when allowed.</returns>
    public bool Allows(ClientPrincipal principal, Permission permission, string? stream)
    {
        ArgumentNullException.ThrowIfNull(principal);
        switch (principal.Kind)
        {
            case "node":
                return permission != Permission.Admin;
            case "cert" or "anonymous" when !Required:
            case "cert" when _admins.Contains(principal.Name):
                return true; // the admin role allows everything: no role list is built on the request path
            default:
                return _policy().Allows(RolesOf(principal), permission, stream);
        }
    }
}
