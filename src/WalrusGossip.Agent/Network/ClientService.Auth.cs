using Google.Protobuf;
using Microsoft.Extensions.Logging;
using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Authorization of every request, and the auth requests (walrusctl auth) that list and change the replicated policy.</summary>
public sealed partial class ClientService
{
    private static readonly TimeSpan AuthChangeTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Names of the permissions on the wire, as walrusctl takes them.</summary>
    private static readonly (string Name, Permission Permission)[] PermissionNames =
        [("append", Permission.Append), ("read", Permission.Read), ("tail", Permission.Tail), ("admin", Permission.Admin)];

    /// <summary>Why <paramref name="principal"/> may not send <paramref name="message"/>, or null when it may.</summary>
    private string? Denied(ClientPrincipal principal, IMessage message)
    {
        var authorizer = Authorizer!;
        string? Need(Permission permission, string? stream) =>
            authorizer.Allows(principal, permission, stream)
                ? null
                : $"{principal} lacks the {permission.ToString().ToLowerInvariant()} permission{(stream is null ? "" : $" on stream '{stream}'")}";

        static string? StreamOf(string stream) => stream.Length == 0 ? null : stream;
        return message switch
        {
            AppendRequest a => Need(Permission.Append, StreamOf(a.Stream)),
            AppendBatchRequest b => b.Items.Select(i => Need(Permission.Append, StreamOf(i.Stream))).FirstOrDefault(d => d is not null),
            ReadRequest r => Need(Permission.Read, StreamOf(r.Stream)),
            TailRequest t => Need(Permission.Tail, StreamOf(t.Stream)),
            StreamInfoRequest i => i.Stream.Length == 0 ? null : Need(Permission.Read, i.Stream), // a listing shows only readable streams
            ConsumerRequest { Action: ConsumerAction.Create or ConsumerAction.Delete } => Need(Permission.Admin, null),
            ConsumerRequest c => c.Stream.Length == 0 ? null : Need(Permission.Read, c.Stream), // a listing shows only readable streams' consumers
            FetchRequest f => Need(Permission.Read, f.Stream),
            AckRequest a => Need(Permission.Read, a.Stream),
            StatusRequest or MembersRequest => null, // cluster health: any authenticated client
            AuthRequest { Change: AuthChange.List } => null, // shows the caller its own identity; the listing needs admin (below)
            _ => Need(Permission.Admin, null),
        };
    }

    /// <summary>The PERMISSION_DENIED answer to <paramref name="request"/>, of its response type.</summary>
    private static IMessage DeniedResponse(IMessage request, string reason)
    {
        const ResponseStatus denied = ResponseStatus.PermissionDenied;
        return request switch
        {
            AppendRequest r => new AppendResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            AppendBatchRequest r => new AppendResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            ReadRequest r => new ReadResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            TailRequest r => new TailEntries { RequestId = r.RequestId, Status = denied, Message = reason },
            StreamInfoRequest r => new StreamInfoResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            ConsumerRequest r => new ConsumerResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            FetchRequest r => new FetchResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            AckRequest r => new AckResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            TransferLeaderRequest r => new TransferLeaderResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            CompactRequest r => new CompactResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            BackupRequest r => new BackupResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            MemberChangeRequest r => new MemberChangeResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            ConsistencyCheckRequest r => new ConsistencyCheckResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            KeyringRequest r => new KeyringResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            AuthRequest r => new AuthResponse { RequestId = r.RequestId, Status = denied, Message = reason },
            _ => throw new ProtocolException(ProtocolErrorKind.UnknownMessageType, $"{request.Descriptor.Name} is not a client request"),
        };
    }

    private async Task AuthAsync(IFrameConnection connection, AuthRequest request, ClientPrincipal? principal)
    {
        var caller = principal ?? new ClientPrincipal("anonymous", "", null);
        if (request.Change == AuthChange.List)
        {
            var (ran, policy) = await TryInvokeAsync(n => n.SecurityPolicy).ConfigureAwait(false);
            var isAdmin = Authorizer is null || Authorizer.Allows(caller, Permission.Admin, null);
            Reply(connection, MessageType.AuthResponse, ran
                ? Describe(new AuthResponse { RequestId = request.RequestId, Status = ResponseStatus.Ok }, policy, caller, listPolicy: isAdmin)
                : new AuthResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        string? secret = null;
        SecurityChange change;
        try
        {
            (change, secret) = ToChange(request);
        }
        catch (ArgumentException e)
        {
            Reply(connection, MessageType.AuthResponse, new AuthResponse { RequestId = request.RequestId, Status = ResponseStatus.InvalidArgument, Message = e.Message });
            return;
        }

        var (invoked, result) = await AwaitAnswerAsync<SecurityChangeResult>((n, done) => n.ChangeSecurity(change, done), AuthChangeTimeout).ConfigureAwait(false);
        if (!invoked)
        {
            Reply(connection, MessageType.AuthResponse, new AuthResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        if (result is null)
        {
            Reply(connection, MessageType.AuthResponse, new AuthResponse
            {
                RequestId = request.RequestId,
                Status = ResponseStatus.Timeout,
                Message = $"the change was not applied within {AuthChangeTimeout.TotalSeconds:F0} s (it may still be); check `walrusctl auth list`",
            });
            return;
        }

        var response = new AuthResponse
        {
            RequestId = request.RequestId,
            Status = AdminStatus(result.Status),
            LeaderId = result.LeaderId,
            Message = result.Message,
            Index = result.Index,
            Token = result.Status == RequestStatus.Ok ? secret ?? "" : "",
        };
        Reply(connection, MessageType.AuthResponse, Describe(response, result.Policy, caller, listPolicy: true));
    }

    /// <summary>The replicated change an auth request asks for, and the new token's secret for CREATE_TOKEN.</summary>
    /// <exception cref="ArgumentException">The request is malformed (unknown change or permission, bad names).</exception>
    private static (SecurityChange Change, string? Secret) ToChange(AuthRequest request)
    {
        string? secret = null;
        var change = request.Change switch
        {
            AuthChange.PutRole => new SecurityChange(SecurityChangeKind.PutRole, request.Name, ParsePermissions(request.Permissions), request.StreamPrefix),
            AuthChange.DeleteRole => new SecurityChange(SecurityChangeKind.DeleteRole, request.Name),
            AuthChange.CreateToken => new SecurityChange(SecurityChangeKind.PutToken, request.Name,
                SecretHash: SecurityPolicy.HashSecret(secret = "wt_" + Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)).TrimEnd('=').Replace('+', '-').Replace('/', '_')),
                Roles: [.. request.Roles]),
            AuthChange.RevokeToken => new SecurityChange(SecurityChangeKind.DeleteToken, request.Name),
            AuthChange.Grant => new SecurityChange(SecurityChangeKind.Grant, request.Name, Roles: [.. request.Roles]),
            AuthChange.Revoke => new SecurityChange(SecurityChangeKind.Revoke, request.Name, Roles: [.. request.Roles]),
            _ => throw new ArgumentException($"unknown auth change {request.Change}"),
        };
        return change.Validate() is { } invalid ? throw new ArgumentException(invalid) : (change, secret);
    }

    private static Permission ParsePermissions(IEnumerable<string> names)
    {
        var permissions = Permission.None;
        foreach (var name in names)
        {
            var match = PermissionNames.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
            permissions |= match.Name is null
                ? throw new ArgumentException($"unknown permission '{name}' (known: {string.Join(", ", PermissionNames.Select(p => p.Name))})")
                : match.Permission;
        }

        return permissions == Permission.None ? throw new ArgumentException("a role needs at least one permission") : permissions;
    }

    private AuthResponse Describe(AuthResponse response, SecurityPolicy policy, ClientPrincipal caller, bool listPolicy)
    {
        response.Caller = caller.ToString();
        response.CallerRoles.AddRange(Authorizer?.RolesOf(caller) ?? [SecurityPolicy.AdminRole]);
        if (!listPolicy)
        {
            return response;
        }

        foreach (var role in policy.Roles)
        {
            var wire = new AuthRole { Name = role.Name, StreamPrefix = role.StreamPrefix ?? "" };
            wire.Permissions.AddRange(PermissionNames.Where(p => role.Permissions.HasFlag(p.Permission)).Select(p => p.Name));
            response.Roles.Add(wire);
        }

        foreach (var token in policy.Tokens)
        {
            var wire = new AuthPrincipal { Name = token.Name };
            wire.Roles.AddRange(token.Roles);
            response.Tokens.Add(wire);
        }

        foreach (var (identity, roles) in policy.Grants)
        {
            var wire = new AuthPrincipal { Name = identity };
            wire.Roles.AddRange(roles);
            response.Grants.Add(wire);
        }

        return response;
    }

    [LoggerMessage(EventId = 1501, Level = LogLevel.Warning, Message = "permission denied: {Principal} sent {Request}: {Reason}")]
    private static partial void LogPermissionDenied(ILogger logger, string principal, string request, string reason);
}
