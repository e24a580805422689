namespace WalrusGossip.Membership;

/// <summary>
/// The metadata contract: the keys every agent publishes in its gossip metadata (ARCHITECTURE.md, Membership: the
/// cluster's diagnostics view) and the only names readers look up. Values are strings; numbers are invariant-culture
/// decimal, sizes in bytes, durations in whole seconds. The node refreshes the live values every
/// metadata refresh interval (default 1 s).
/// </summary>
public static class MetadataKeys
{
    /// <summary>Address clients connect to, <c>host:port</c>.</summary>
    public const string ClientAddress = "client";

    /// <summary>Address peers use for Raft traffic, <c>host:port</c>.</summary>
    public const string PeerAddress = "peer";

    /// <summary>Gossip address, <c>host:port</c>.</summary>
    public const string GossipAddress = "gossip";

    /// <summary>HTTP diagnostics address, <c>host:port</c>.</summary>
    public const string HttpAddress = "http";

    /// <summary>Agent version string.</summary>
    public const string Version = "version";

    /// <summary>The agent's <c>Cluster:BootstrapExpect</c> (0 for an agent that only joins); founders bootstrap with members announcing the same value.</summary>
    public const string BootstrapExpect = "bootstrap-expect";

    /// <summary>Raft role: <c>leader</c>, <c>follower</c>, <c>candidate</c> or <c>precandidate</c>.</summary>
    public const string RaftRole = "raft.role";

    /// <summary>Current Raft term.</summary>
    public const string RaftTerm = "raft.term";

    /// <summary>Raft commit index.</summary>
    public const string CommitIndex = "raft.commit";

    /// <summary>Highest index applied to the state machine.</summary>
    public const string AppliedIndex = "raft.applied";

    /// <summary>
    /// Replication lag in entries: on the leader, the largest gap between its last index and a follower's match index;
    /// on any other node, its commit index minus its applied index.
    /// </summary>
    public const string ReplicationLag = "raft.lag";

    /// <summary>Bytes of log data held by the data directory.</summary>
    public const string DiskUsedBytes = "disk.bytes";

    /// <summary>Time since the node started, in whole seconds.</summary>
    public const string UptimeSeconds = "uptime.seconds";

    /// <summary>
    /// Present ("1") on a node an operator removed from the Raft configuration: autopilot never adds it back as a
    /// learner (its data directory must be wiped for it to rejoin).
    /// </summary>
    public const string RaftRemoved = "raft.removed";
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

        return metadata.Count <= 256 && Math.Max(LegacyMessageCodec.MetadataSize(metadata), MessageCodec.MetadataSize(metadata)) <= maxMetadataBytes;
    }
}
