using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>A role: what it allows, optionally limited to streams with a name prefix.</summary>
/// <param name="Name">Role name.</param>
/// <param name="Permissions">Any of <c>append</c>, <c>read</c>, <c>tail</c>, <c>admin</c>.</param>
/// <param name="StreamPrefix">Stream name prefix the role is limited to; empty for every stream.</param>
public sealed record AuthRoleInfo(string Name, IReadOnlyList<string> Permissions, string StreamPrefix);

/// <summary>A token or a certificate identity and the roles it holds.</summary>
/// <param name="Name">Token name or certificate identity.</param>
/// <param name="Roles">Role names.</param>
public sealed record AuthPrincipalInfo(string Name, IReadOnlyList<string> Roles);

/// <summary>The cluster's authorization state as one agent has applied it, and who the caller is.</summary>
/// <param name="Caller"><c>cert:NAME</c>, <c>token:NAME</c>, <c>node:ID</c> or <c>anonymous</c>.</param>
/// <param name="CallerRoles">The caller's roles.</param>
/// <param name="Roles">Defined roles (the built-in <c>admin</c> role is not listed); empty unless the caller is an admin.</param>
/// <param name="Tokens">Tokens (names and roles; secrets are never shown again); empty unless the caller is an admin.</param>
/// <param name="Grants">Certificate identities with granted roles; empty unless the caller is an admin.</param>
/// <param name="Index">Log index of the change just applied (0 for a listing).</param>
/// <param name="Token">After <see cref="WalrusClient.CreateTokenAsync"/>: the new token's secret, shown only this once.</param>
public sealed record AuthState(string Caller, IReadOnlyList<string> CallerRoles, IReadOnlyList<AuthRoleInfo> Roles, IReadOnlyList<AuthPrincipalInfo> Tokens, IReadOnlyList<AuthPrincipalInfo> Grants, ulong Index, string? Token);

public sealed partial class WalrusClient
{
    /// <summary>The authorization state (roles, tokens, grants) and the caller's own identity and roles.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state one agent has applied.</returns>
    /// <exception cref="WalrusException">No agent answered after all retries.</exception>
    public Task<AuthState> GetAuthAsync(CancellationToken cancellationToken = default) =>
        AuthAsync(new AuthRequest { Change = AuthChange.List }, cancellationToken);

    /// <summary>Creates or replaces a role (one replicated change; needs admin).</summary>
    /// <param name="name">Role name (1 to 64 of letters, digits, '-', '_', '.', '@', ':'); not <c>admin</c>.</param>
    /// <param name="permissions">Any of <c>append</c>, <c>read</c>, <c>tail</c>, <c>admin</c>; at least one.</param>
    /// <param name="streamPrefix">Limit to streams whose name starts with this; null or empty for every stream.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state after the change.</returns>
    /// <exception cref="WalrusInvalidArgumentException">A name or permission is invalid.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public Task<AuthState> PutRoleAsync(string name, IEnumerable<string> permissions, string? streamPrefix = null, CancellationToken cancellationToken = default)
    {
        var request = new AuthRequest { Change = AuthChange.PutRole, Name = name, StreamPrefix = streamPrefix ?? "" };
        request.Permissions.AddRange(permissions);
        return AuthAsync(request, cancellationToken);
    }

    /// <summary>Deletes a role (needs admin); tokens and identities holding it lose what it allowed.</summary>
    /// <param name="name">Role name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state after the change.</returns>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public Task<AuthState> DeleteRoleAsync(string name, CancellationToken cancellationToken = default) =>
        AuthAsync(new AuthRequest { Change = AuthChange.DeleteRole, Name = name }, cancellationToken);

    /// <summary>Creates (or replaces) a bearer token holding <paramref name="roles"/> (needs admin).</summary>
    /// <param name="name">Token name.</param>
    /// <param name="roles">Role names (at most 16).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state after the change; <see cref="AuthState.Token"/> is the secret, shown only this once (agents keep its SHA-256).</returns>
    /// <exception cref="WalrusInvalidArgumentException">A name is invalid.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public Task<AuthState> CreateTokenAsync(string name, IEnumerable<string> roles, CancellationToken cancellationToken = default)
    {
        var request = new AuthRequest { Change = AuthChange.CreateToken, Name = name };
        request.Roles.AddRange(roles);
        return AuthAsync(request, cancellationToken);
    }

    /// <summary>Revokes a token (needs admin): connections holding it are refused from their next request.</summary>
    /// <param name="name">Token name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state after the change.</returns>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public Task<AuthState> RevokeTokenAsync(string name, CancellationToken cancellationToken = default) =>
        AuthAsync(new AuthRequest { Change = AuthChange.RevokeToken, Name = name }, cancellationToken);

    /// <summary>Grants a role to a client-certificate identity, or takes it away (needs admin).</summary>
    /// <param name="identity">The identity (SAN URI <c>walrus://client/NAME</c>, else the certificate's common name).</param>
    /// <param name="role">Role name.</param>
    /// <param name="grant">True to grant, false to revoke.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The state after the change.</returns>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public Task<AuthState> GrantAsync(string identity, string role, bool grant = true, CancellationToken cancellationToken = default)
    {
        var request = new AuthRequest { Change = grant ? AuthChange.Grant : AuthChange.Revoke, Name = identity };
        request.Roles.Add(role);
        return AuthAsync(request, cancellationToken);
    }

    private async Task<AuthState> AuthAsync(AuthRequest request, CancellationToken cancellationToken)
    {
        var (response, _) = await ExecuteAsync(MessageType.AuthRequest, request, cancellationToken).ConfigureAwait(false);
        var r = (AuthResponse)response;
        return new AuthState(
            r.Caller,
            [.. r.CallerRoles],
            [.. r.Roles.Select(x => new AuthRoleInfo(x.Name, [.. x.Permissions], x.StreamPrefix))],
            [.. r.Tokens.Select(x => new AuthPrincipalInfo(x.Name, [.. x.Roles]))],
            [.. r.Grants.Select(x => new AuthPrincipalInfo(x.Name, [.. x.Roles]))],
            r.Index,
            r.Token.Length == 0 ? null : r.Token);
    }
}
