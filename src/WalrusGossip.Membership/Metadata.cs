namespace WalrusGossip.Membership;

/// <summary>
/// Well-known metadata keys. Metadata is a free string map; these names are the ones the agent
/// publishes for the diagnostics view (ARCHITECTURE.md, Membership). Values are strings; numbers are
/// invariant-culture decimal, sizes in bytes, durations in whole seconds.
/// </summary>
public static class MetadataKeys
{
    /// <summary>Address clients connect to, <c>host:port</c>.</summary>
    public const string ClientAddress = "client_addr";

    /// <summary>Address peers use for Raft traffic, <c>host:port</c>.</summary>
    public const string PeerAddress = "peer_addr";

    /// <summary>Gossip address, <c>host:port</c>.</summary>
    public const string GossipAddress = "gossip_addr";

    /// <summary>HTTP diagnostics address, <c>host:port</c>.</summary>
    public const string HttpAddress = "http_addr";

    /// <summary>Agent version string.</summary>
    public const string Version = "version";

    /// <summary>Raft role: <c>leader</c>, <c>follower</c>, <c>candidate</c> or <c>learner</c>.</summary>
    public const string RaftRole = "raft_role";

    /// <summary>Current Raft term.</summary>
    public const string RaftTerm = "raft_term";

    /// <summary>Raft commit index.</summary>
    public const string CommitIndex = "commit_index";

    /// <summary>Bytes used by the data directory.</summary>
    public const string DiskUsedBytes = "disk_used_bytes";

    /// <summary>Agent uptime in seconds.</summary>
    public const string UptimeSeconds = "uptime_s";
}

/// <summary>Helpers for immutable metadata maps.</summary>
internal static class Metadata
{
    public static readonly IReadOnlyDictionary<string, string> Empty = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>Copies <paramref name="source"/> so later changes by the caller cannot leak in.</summary>
    public static IReadOnlyDictionary<string, string> Copy(IReadOnlyDictionary<string, string> source)
    {
        if (source.Count == 0)
        {
            return Empty;
        }

        var copy = new Dictionary<string, string>(source.Count, StringComparer.Ordinal);
        foreach (var (key, value) in source)
        {
            copy[key] = value;
        }

        return copy;
    }

    public static bool AreEqual(IReadOnlyDictionary<string, string> a, IReadOnlyDictionary<string, string> b)
    {
        if (ReferenceEquals(a, b))
        {
            return true;
        }

        if (a.Count != b.Count)
        {
            return false;
        }

        foreach (var (key, value) in a)
        {
            if (!b.TryGetValue(key, out var other) || !string.Equals(value, other, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>True when every key is non-empty and every key and value fits a wire string.</summary>
    public static bool IsEncodable(IReadOnlyDictionary<string, string> metadata, int maxMetadataBytes)
    {
        foreach (var (key, value) in metadata)
        {
            if (key is null || value is null || key.Length == 0
                || System.Text.Encoding.UTF8.GetByteCount(key) > WireReader.MaxStringBytes)
            {
                return false;
            }
        }

        return metadata.Count <= 256 && MessageCodec.MetadataSize(metadata) <= maxMetadataBytes;
    }
}
