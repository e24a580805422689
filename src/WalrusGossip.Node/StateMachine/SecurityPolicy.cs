using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Text;

namespace WalrusGossip.Node;

/// <summary>What a role allows (flags). Admin covers every operation that changes the cluster rather than the log.</summary>
[Flags]
public enum Permission
{
    /// <summary>Nothing.</summary>
    None = 0,

    /// <summary>Append entries.</summary>
    Append = 1,

    /// <summary>Read committed entries.</summary>
    Read = 2,

    /// <summary>Follow the log live.</summary>
    Tail = 4,

    /// <summary>Transfer leadership, change members, compact, snapshot, back up, rotate the gossip keyring, run a consistency check, manage users, tokens and roles.</summary>
    Admin = 8,

    /// <summary>Every permission.</summary>
    All = Append | Read | Tail | Admin,
}

/// <summary>A named set of permissions, optionally limited to streams whose name starts with <see cref="StreamPrefix"/>.</summary>
/// <param name="Name">1 to 64 characters.</param>
/// <param name="Permissions">What it allows.</param>
/// <param name="StreamPrefix">Null or empty: every stream and untagged entries; else only streams with this prefix (Admin is never limited).</param>
public sealed record SecurityRole(string Name, Permission Permissions, string? StreamPrefix);

/// <summary>A bearer token: its name, the SHA-256 of its secret (the secret itself is never stored) and its roles.</summary>
/// <param name="Name">1 to 64 characters; shown in logs and listings.</param>
/// <param name="SecretHash">SHA-256 of the token's UTF-8 text (32 bytes).</param>
/// <param name="Roles">Role names.</param>
public sealed record SecurityToken(string Name, byte[] SecretHash, IReadOnlyList<string> Roles);

/// <summary>The kind of a replicated security change (one <see cref="Raft.EntryType.Security"/> entry each).</summary>
public enum SecurityChangeKind : byte
{
    /// <summary>Create or replace a role.</summary>
    PutRole = 1,

    /// <summary>Delete a role (tokens and grants naming it lose it).</summary>
    DeleteRole = 2,

    /// <summary>Create or replace a token.</summary>
    PutToken = 3,

    /// <summary>Revoke a token.</summary>
    DeleteToken = 4,

    /// <summary>Grant a role to a certificate identity.</summary>
    Grant = 5,

    /// <summary>Take a role from a certificate identity.</summary>
    Revoke = 6,
}

/// <summary>
/// One security change as stored in a <see cref="Raft.EntryType.Security"/> log entry (little-endian): u8 version 1,
/// u8 kind, then per kind: PutRole name, u32 permissions, stream prefix; DeleteRole name; PutToken name, 32-byte hash,
/// u32 count and role names; DeleteToken name; Grant/Revoke identity, role. Strings are a u32 length and UTF-8.
/// </summary>
/// <param name="Kind">What changes.</param>
/// <param name="Name">Role, token or identity name.</param>
/// <param name="Permissions">PutRole only.</param>
/// <param name="StreamPrefix">PutRole only; empty for every stream.</param>
/// <param name="SecretHash">PutToken only: SHA-256 of the secret.</param>
/// <param name="Roles">PutToken: its roles; Grant/Revoke: the one role.</param>
public sealed record SecurityChange(SecurityChangeKind Kind, string Name, Permission Permissions = Permission.None, string StreamPrefix = "", byte[]? SecretHash = null, IReadOnlyList<string>? Roles = null)
{
    /// <summary>Longest role, token or identity name in UTF-8 bytes.</summary>
    public const int MaxNameBytes = 64;

    /// <summary>Most roles one token or identity holds.</summary>
    public const int MaxRoles = 16;

    /// <summary>Encodes the change for its log entry.</summary>
    /// <returns>The payload.</returns>
    public byte[] Encode()
    {
        var w = new StateWriter();
        w.WriteUInt32(1 | ((uint)Kind << 8));
        w.WriteString(Name);
        switch (Kind)
        {
            case SecurityChangeKind.PutRole:
                w.WriteUInt32((uint)Permissions);
                w.WriteString(StreamPrefix);
                break;
            case SecurityChangeKind.PutToken:
                w.WriteBytes(SecretHash ?? []);
                WriteRoles(w, Roles ?? []);
                break;
            case SecurityChangeKind.Grant or SecurityChangeKind.Revoke:
                WriteRoles(w, Roles ?? []);
                break;
        }

        return w.Written.ToArray();
    }

    /// <summary>Decodes a payload made by <see cref="Encode"/>; never throws.</summary>
    /// <param name="payload">A Security entry's payload.</param>
    /// <param name="change">The change, or null.</param>
    /// <returns>False when the payload is not a valid change (every replica ignores it alike).</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out SecurityChange? change)
    {
        change = null;
        try
        {
            var r = new StateReader(payload);
            var head = r.ReadUInt32();
            if ((head & 0xFF) != 1 || head >> 16 != 0)
            {
                return false;
            }

            var kind = (SecurityChangeKind)(head >> 8);
            var name = r.ReadString(MaxNameBytes);
            change = kind switch
            {
                SecurityChangeKind.PutRole => new SecurityChange(kind, name, (Permission)r.ReadUInt32() & Permission.All, r.ReadString(255)),
                SecurityChangeKind.DeleteRole or SecurityChangeKind.DeleteToken => new SecurityChange(kind, name),
                SecurityChangeKind.PutToken => new SecurityChange(kind, name, SecretHash: r.ReadBytes(32), Roles: ReadRoles(ref r)),
                SecurityChangeKind.Grant or SecurityChangeKind.Revoke => new SecurityChange(kind, name, Roles: ReadRoles(ref r)),
                _ => null,
            };
            if (change is null || r.Remaining != 0 || change.Validate() is not null)
            {
                change = null;
                return false;
            }

            return true;
        }
        catch (StateMachineSnapshotException)
        {
            change = null;
            return false;
        }
    }

    /// <summary>Why this change is malformed, or null when it is well formed (names, hash length, role count).</summary>
    /// <returns>The reason for an INVALID_ARGUMENT answer.</returns>
    public string? Validate()
    {
        if (!IsName(Name))
        {
            return $"'{Name}' is not a valid name (1 to {MaxNameBytes} bytes of letters, digits, '-', '_', '.', '@' or ':')";
        }

        if (Kind == SecurityChangeKind.PutToken && SecretHash is not { Length: 32 })
        {
            return "a token needs a 32-byte SHA-256 secret hash";
        }

        var roles = Roles ?? [];
        if (roles.Count > MaxRoles || roles.Any(r => !IsName(r)))
        {
            return $"roles must be at most {MaxRoles} valid names";
        }

        if (Kind is SecurityChangeKind.Grant or SecurityChangeKind.Revoke && roles.Count != 1)
        {
            return "a grant or revoke names exactly one role";
        }

        return Kind == SecurityChangeKind.PutRole && Encoding.UTF8.GetByteCount(StreamPrefix) > 255 ? "the stream prefix is longer than 255 bytes" : null;
    }

    private static bool IsName(string name) =>
        name.Length > 0 && Encoding.UTF8.GetByteCount(name) <= MaxNameBytes && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '@' or ':');

    private static void WriteRoles(StateWriter w, IReadOnlyList<string> roles)
    {
        w.WriteCount(roles.Count);
        foreach (var role in roles)
        {
            w.WriteString(role);
        }
    }

    private static string[] ReadRoles(ref StateReader r)
    {
        var count = r.ReadCount(minBytesEach: 5);
        if (count > MaxRoles)
        {
            throw new StateMachineSnapshotException($"{count} roles exceed the limit of {MaxRoles}");
        }

        var roles = new string[count];
        for (var i = 0; i < count; i++)
        {
            roles[i] = r.ReadString(MaxNameBytes);
        }

        return roles;
    }
}

/// <summary>
/// The replicated authorization state (users as certificate identities and tokens, roles, grants), kept by the state
/// machine from <see cref="Raft.EntryType.Security"/> entries and carried in checkpoints, so every agent enforces the
/// same rules at the same applied index (etcd's auth store works alike). Immutable: each change makes a new policy,
/// which readers on any thread pick up. The role <see cref="AdminRole"/> always exists and allows everything.
/// </summary>
public sealed class SecurityPolicy
{
    /// <summary>The built-in role holding every permission on every stream.</summary>
    public const string AdminRole = "admin";

    private static readonly SecurityRole Admin = new(AdminRole, Permission.All, null);

    private readonly FrozenDictionary<string, SecurityRole> _roles;
    private readonly FrozenDictionary<string, SecurityToken> _tokens;
    private readonly FrozenDictionary<string, SecurityToken> _tokensByHash;
    private readonly FrozenDictionary<string, IReadOnlyList<string>> _grants;

    private SecurityPolicy(IDictionary<string, SecurityRole> roles, IDictionary<string, SecurityToken> tokens, IDictionary<string, IReadOnlyList<string>> grants)
    {
        _roles = roles.ToFrozenDictionary(StringComparer.Ordinal);
        _tokens = tokens.ToFrozenDictionary(StringComparer.Ordinal);
        _tokensByHash = tokens.Values.ToFrozenDictionary(t => Convert.ToHexString(t.SecretHash), StringComparer.Ordinal);
        _grants = grants.ToFrozenDictionary(StringComparer.Ordinal);
    }

    /// <summary>No roles but admin, no tokens, no grants.</summary>
    public static SecurityPolicy Empty { get; } = new(new Dictionary<string, SecurityRole>(), new Dictionary<string, SecurityToken>(), new Dictionary<string, IReadOnlyList<string>>());

    /// <summary>Roles defined by changes (the built-in admin role is not listed), by name.</summary>
    public IEnumerable<SecurityRole> Roles => _roles.Values.OrderBy(r => r.Name, StringComparer.Ordinal);

    /// <summary>Tokens, by name.</summary>
    public IEnumerable<SecurityToken> Tokens => _tokens.Values.OrderBy(t => t.Name, StringComparer.Ordinal);

    /// <summary>Roles granted to certificate identities, by identity.</summary>
    public IEnumerable<KeyValuePair<string, IReadOnlyList<string>>> Grants => _grants.OrderBy(g => g.Key, StringComparer.Ordinal);

    /// <summary>SHA-256 of a token's text, as stored.</summary>
    /// <param name="token">The bearer token a client presents.</param>
    /// <returns>32 bytes.</returns>
    public static byte[] HashSecret(string token) => SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>The token whose secret hashes to <paramref name="secretHash"/>, or null (unknown or revoked).</summary>
    /// <param name="secretHash">From <see cref="HashSecret"/>.</param>
    /// <returns>The token record.</returns>
    public SecurityToken? FindToken(byte[] secretHash) => _tokensByHash.GetValueOrDefault(Convert.ToHexString(secretHash));

    /// <summary>The roles of a certificate identity (none when it has no grant).</summary>
    /// <param name="identity">The name from the client certificate.</param>
    /// <returns>Role names.</returns>
    public IReadOnlyList<string> RolesOf(string identity) => _grants.GetValueOrDefault(identity) ?? [];

    /// <summary>
    /// Whether any of <paramref name="roles"/> allows <paramref name="permission"/> on <paramref name="stream"/>
    /// (null: the whole log, which a stream-limited role never covers). Unknown roles allow nothing.
    /// </summary>
    /// <param name="roles">Role names held by the caller.</param>
    /// <param name="permission">One permission.</param>
    /// <param name="stream">The stream the request names, or null.</param>
    /// <returns>True when allowed.</returns>
    public bool Allows(IReadOnlyList<string> roles, Permission permission, string? stream)
    {
        foreach (var name in roles)
        {
            var role = name == AdminRole ? Admin : _roles.GetValueOrDefault(name);
            if (role is null || (role.Permissions & permission) != permission)
            {
                continue;
            }

            if (permission == Permission.Admin || string.IsNullOrEmpty(role.StreamPrefix) ||
                (stream is not null && stream.StartsWith(role.StreamPrefix, StringComparison.Ordinal)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The policy after <paramref name="change"/> (deleting what does not exist changes nothing).</summary>
    /// <param name="change">A well-formed change.</param>
    /// <returns>A new policy, or this one when nothing changed.</returns>
    public SecurityPolicy With(SecurityChange change)
    {
        ArgumentNullException.ThrowIfNull(change);
        var roles = new Dictionary<string, SecurityRole>(_roles, StringComparer.Ordinal);
        var tokens = new Dictionary<string, SecurityToken>(_tokens, StringComparer.Ordinal);
        var grants = new Dictionary<string, IReadOnlyList<string>>(_grants, StringComparer.Ordinal);
        switch (change.Kind)
        {
            case SecurityChangeKind.PutRole when change.Name != AdminRole:
                roles[change.Name] = new SecurityRole(change.Name, change.Permissions, change.StreamPrefix.Length == 0 ? null : change.StreamPrefix);
                break;
            case SecurityChangeKind.DeleteRole:
                roles.Remove(change.Name);
                break;
            case SecurityChangeKind.PutToken:
                tokens[change.Name] = new SecurityToken(change.Name, change.SecretHash!, [.. change.Roles ?? []]);
                break;
            case SecurityChangeKind.DeleteToken:
                tokens.Remove(change.Name);
                break;
            case SecurityChangeKind.Grant:
                grants[change.Name] = RolesOf(change.Name).Union(change.Roles!, StringComparer.Ordinal).Take(SecurityChange.MaxRoles).ToArray();
                break;
            case SecurityChangeKind.Revoke:
                var left = RolesOf(change.Name).Except(change.Roles!, StringComparer.Ordinal).ToArray();
                if (left.Length == 0)
                {
                    grants.Remove(change.Name);
                }
                else
                {
                    grants[change.Name] = left;
                }

                break;
            default:
                return this;
        }

        return new SecurityPolicy(roles, tokens, grants);
    }

    /// <summary>Writes the policy into a state-machine snapshot (roles, tokens, grants, each sorted by name).</summary>
    internal void WriteTo(StateWriter w)
    {
        var changes = Roles.Select(r => new SecurityChange(SecurityChangeKind.PutRole, r.Name, r.Permissions, r.StreamPrefix ?? ""))
            .Concat(Tokens.Select(t => new SecurityChange(SecurityChangeKind.PutToken, t.Name, SecretHash: t.SecretHash, Roles: t.Roles)))
            .Concat(Grants.SelectMany(g => g.Value.Select(role => new SecurityChange(SecurityChangeKind.Grant, g.Key, Roles: [role]))))
            .ToList();
        w.WriteCount(changes.Count);
        foreach (var change in changes)
        {
            w.WriteBytes(change.Encode());
        }
    }

    /// <summary>Reads what <see cref="WriteTo"/> wrote.</summary>
    /// <exception cref="StateMachineSnapshotException">Truncated or malformed.</exception>
    internal static SecurityPolicy ReadFrom(ref StateReader r)
    {
        var count = r.ReadCount(minBytesEach: 4);
        var policy = Empty;
        for (var i = 0; i < count; i++)
        {
            if (!SecurityChange.TryDecode(r.ReadBytes(4096), out var change))
            {
                throw new StateMachineSnapshotException($"security change {i} of the snapshot is malformed");
            }

            policy = policy.With(change!);
        }

        return policy;
    }

    /// <summary>A digest of the whole policy (SHA-256 of its encoding), equal on replicas that agree.</summary>
    /// <returns>Hex text.</returns>
    public string Digest()
    {
        var w = new StateWriter();
        WriteTo(w);
        return Convert.ToHexString(SHA256.HashData(w.Written))[..16];
    }
}
