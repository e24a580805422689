using System.Globalization;
using System.Net;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Configuration;

/// <summary>
/// Everything <c>walrus-agent</c> reads from configuration (<c>config/*.json</c>, <c>WALRUS_</c> environment
/// variables, command line; the command line wins). Section and key names are the JSON paths, e.g. <c>Node:Id</c>.
/// </summary>
public sealed class AgentOptions
{
    /// <summary>Node identity and data.</summary>
    public NodeSection Node { get; set; } = new();

    /// <summary>Listen addresses.</summary>
    public NetworkSection Network { get; set; } = new();

    /// <summary>Cluster formation.</summary>
    public ClusterSection Cluster { get; set; } = new();

    /// <summary>Transport and TLS.</summary>
    public TransportSection Transport { get; set; } = new();

    /// <summary>Gossip encryption.</summary>
    public GossipSection Gossip { get; set; } = new();

    /// <summary>Local store.</summary>
    public StorageSection Storage { get; set; } = new();

    /// <summary>Raft timing.</summary>
    public RaftSection Raft { get; set; } = new();

    /// <summary>Client authentication and authorization.</summary>
    public SecuritySection Security { get; set; } = new();

    /// <summary>Metrics export beyond <c>/metrics</c>.</summary>
    public TelemetrySection Telemetry { get; set; } = new();

    /// <summary>Checks every value; returns one message per problem, each naming the setting (empty when valid).</summary>
    /// <returns>Problems found.</returns>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (!string.IsNullOrEmpty(Telemetry.OtlpEndpoint) && !Uri.TryCreate(Telemetry.OtlpEndpoint, UriKind.Absolute, out _))
        {
            problems.Add($"Telemetry:OtlpEndpoint must be an absolute URI such as http://collector:4317, got '{Telemetry.OtlpEndpoint}'");
        }

        if (Telemetry.OtlpProtocol is not ("grpc" or "http"))
        {
            problems.Add($"Telemetry:OtlpProtocol must be grpc or http (HTTP/protobuf), got '{Telemetry.OtlpProtocol}'");
        }

        if (Node.Id == 0)
        {
            problems.Add("Node:Id (--node-id) is required and must be a positive integer");
        }

        if (string.IsNullOrWhiteSpace(Node.DataDir))
        {
            problems.Add("Node:DataDir (--data-dir) is required");
        }

        foreach (var (key, value) in new[]
                 {
                     ("Network:ClientListen (--client-listen)", Network.ClientListen),
                     ("Network:PeerListen (--peer-listen)", Network.PeerListen),
                     ("Network:GossipListen (--gossip-listen)", Network.GossipListen),
                     ("Network:HttpListen (--http-listen)", Network.HttpListen),
                 })
        {
            if (!TryParseEndPoint(value, out _))
            {
                problems.Add($"{key} must be host:port with a numeric port, got '{value}'");
            }
        }

        foreach (var seed in Cluster.Join)
        {
            if (!TryParseHostPort(seed, out _, out _))
            {
                problems.Add($"Cluster:Join (--join) entries must be host:port, got '{seed}'");
            }
        }

        foreach (var key in Gossip.Keys)
        {
            try
            {
                WalrusGossip.Membership.GossipKeyring.ParseKey(key);
            }
            catch (FormatException e)
            {
                problems.Add($"Gossip:Keys: {e.Message}");
            }
        }

        if (Gossip.ProtocolVersion is not (1 or 2))
        {
            problems.Add($"Gossip:ProtocolVersion must be 1 or 2, got {Gossip.ProtocolVersion}");
        }

        if (Cluster.Voters < 1 || Cluster.Voters > 9)
        {
            problems.Add($"Cluster:Voters must be between 1 and 9, got {Cluster.Voters}");
        }

        if (Cluster.DeadServerGrace < TimeSpan.Zero)
        {
            problems.Add($"Cluster:DeadServerGrace must not be negative, got {Cluster.DeadServerGrace}");
        }

        if (Cluster.ConsistencyCheckInterval < TimeSpan.Zero)
        {
            problems.Add($"Cluster:ConsistencyCheckInterval must not be negative, got {Cluster.ConsistencyCheckInterval}");
        }

        if (Cluster.ConsistencyCheckEntries < 1 || Cluster.ConsistencyCheckEntries > WalrusNode.MaxConsistencyCheckEntries)
        {
            problems.Add($"Cluster:ConsistencyCheckEntries must be between 1 and {WalrusNode.MaxConsistencyCheckEntries}, got {Cluster.ConsistencyCheckEntries}");
        }

        if (Cluster.BootstrapExpect < 0 || Cluster.BootstrapExpect > 9)
        {
            problems.Add($"Cluster:BootstrapExpect (--bootstrap-expect) must be between 0 and 9, got {Cluster.BootstrapExpect}");
        }

        if (Transport.Mode.ToLowerInvariant() is not ("auto" or "quic" or "tcp"))
        {
            problems.Add($"Transport:Mode must be auto, quic or tcp, got '{Transport.Mode}'");
        }

        foreach (var (key, path) in new[] { ("Transport:CaFile", Transport.CaFile), ("Transport:CertFile", Transport.CertFile), ("Transport:KeyFile", Transport.KeyFile) })
        {
            if (string.IsNullOrWhiteSpace(path))
            {
                problems.Add($"{key} is required (run 'walrusctl certs init' or 'walrus-agent dev-cluster' to create certificates)");
            }
            else if (!File.Exists(path))
            {
                problems.Add($"{key}: file not found: {path}");
            }
        }

        try
        {
            _ = DurabilityPolicy.Parse(Storage.Fsync);
        }
        catch (StorageConfigurationException e)
        {
            problems.Add("Storage:Fsync: " + e.Message);
        }

        if (!Enum.TryParse<WalrusGossip.Storage.IO.IoEngine>(Storage.IoEngine, ignoreCase: true, out _))
        {
            problems.Add($"Storage:IoEngine must be auto, uring or psync, got '{Storage.IoEngine}'");
        }

        if (Storage.ReserveBytes < 0)
        {
            problems.Add($"Storage:ReserveBytes must be 0 (no check) or positive, got {Storage.ReserveBytes}");
        }

        if (Storage.Retention.MaxBytes < 0 || Storage.Retention.MaxEntries < 0)
        {
            problems.Add($"Storage:Retention:MaxBytes ({Storage.Retention.MaxBytes}) and Storage:Retention:MaxEntries ({Storage.Retention.MaxEntries}) must be 0 (no limit) or positive");
        }

        if (Storage.Retention.MaxAge < TimeSpan.Zero)
        {
            problems.Add($"Storage:Retention:MaxAge must be 00:00:00 (no limit) or positive, as [d.]hh:mm:ss (e.g. 7.00:00:00), got {Storage.Retention.MaxAge}");
        }

        if (Storage.CheckpointEveryEntries < 1 || Storage.CheckpointEveryBytes < 1)
        {
            problems.Add($"Storage:CheckpointEveryEntries ({Storage.CheckpointEveryEntries}) and Storage:CheckpointEveryBytes ({Storage.CheckpointEveryBytes}) must be at least 1");
        }

        if (Raft.TickMs is < 10 or > 10_000)
        {
            problems.Add($"Raft:TickMs must be between 10 and 10000, got {Raft.TickMs}");
        }

        if (Raft.SnapshotChunkBytes < 256)
        {
            problems.Add($"Raft:SnapshotChunkBytes must be at least 256, got {Raft.SnapshotChunkBytes}");
        }

        if (Raft.ElectionTicks < 2 || Raft.HeartbeatTicks < 1 || Raft.HeartbeatTicks >= Raft.ElectionTicks)
        {
            problems.Add($"Raft:ElectionTicks ({Raft.ElectionTicks}) must exceed Raft:HeartbeatTicks ({Raft.HeartbeatTicks}) >= 1");
        }

        return problems;
    }

    /// <summary>Parses <c>host:port</c> where host is an IP address or <c>localhost</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="endPoint">The endpoint.</param>
    /// <returns>False when the text is not of that form.</returns>
    public static bool TryParseEndPoint(string? text, out IPEndPoint endPoint)
    {
        endPoint = new IPEndPoint(IPAddress.Loopback, 0);
        if (!TryParseHostPort(text, out var host, out var port))
        {
            return false;
        }

        var address = host is "localhost" ? IPAddress.Loopback : host is "*" or "0.0.0.0" ? IPAddress.Any : null;
        if (address is null && !IPAddress.TryParse(host, out address))
        {
            return false;
        }

        endPoint = new IPEndPoint(address, port);
        return true;
    }

    /// <summary>Parses <c>host:port</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="host">Host part.</param>
    /// <param name="port">Port, 0..65535.</param>
    /// <returns>False when malformed.</returns>
    public static bool TryParseHostPort(string? text, out string host, out int port)
    {
        host = string.Empty;
        port = 0;
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out port) || port > 65535)
        {
            return false;
        }

        host = text[..colon].Trim('[', ']');
        return host.Length > 0;
    }
}

/// <summary>Node identity.</summary>
public sealed class NodeSection
{
    /// <summary>Raft node id; positive, unique in the cluster.</summary>
    public ulong Id { get; set; }

    /// <summary>Data directory (log, hard state, checkpoints, agent log files).</summary>
    public string DataDir { get; set; } = string.Empty;
}

/// <summary>Listen addresses, each <c>host:port</c>.</summary>
public sealed class NetworkSection
{
    /// <summary>Client API (QUIC or TCP + TLS). Default 127.0.0.1:7101.</summary>
    public string ClientListen { get; set; } = "127.0.0.1:7101";

    /// <summary>Raft traffic between agents (QUIC or TCP + TLS). Default 127.0.0.1:7201.</summary>
    public string PeerListen { get; set; } = "127.0.0.1:7201";

    /// <summary>SWIM gossip: UDP datagrams, and push-pull over a TLS stream on the same port number. Default 127.0.0.1:7301.</summary>
    public string GossipListen { get; set; } = "127.0.0.1:7301";

    /// <summary>HTTP: /health, /ready, /metrics, /v1/status. Default 127.0.0.1:7401.</summary>
    public string HttpListen { get; set; } = "127.0.0.1:7401";

    /// <summary>Address peers and clients should use to reach this agent when the listen host is a wildcard; default: the listen host.</summary>
    public string? AdvertiseHost { get; set; }
}

/// <summary>How the cluster forms.</summary>
public sealed class ClusterSection
{
    /// <summary>Gossip addresses of existing agents to join through.</summary>
    public IList<string> Join { get; set; } = [];

    /// <summary>When non-zero on a new data directory: wait until gossip has found this many agents (this one included), then bootstrap Raft with them as voters.</summary>
    public int BootstrapExpect { get; set; }

    /// <summary>Target number of voters autopilot keeps; further agents stay learners. Default 3; 1 to 9.</summary>
    public int Voters { get; set; } = 3;

    /// <summary>How long SWIM must hold a member dead before autopilot removes it. Default 30 s; 0 disables removal.</summary>
    public TimeSpan DeadServerGrace { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How often the leader compares a hash of committed entries with every peer. Default 30 s; 0 disables the periodic check.</summary>
    public TimeSpan ConsistencyCheckInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Most committed entries one consistency round hashes. Default 4,096; 1 to 65,536.</summary>
    public int ConsistencyCheckEntries { get; set; } = 4096;
}

/// <summary>Gossip encryption (AES-GCM, memberlist's keyring).</summary>
public sealed class GossipSection
{
    /// <summary>
    /// Base64 AES keys (16, 24 or 32 bytes: <c>openssl rand -base64 32</c>), the first one primary. Every agent of a
    /// cluster needs one of them. Read only while the data directory holds no keyring; afterwards <c>walrusctl keyring</c>
    /// changes it and the agent keeps it in <c>raft/gossip.keyring</c>. Empty (the default): gossip is plaintext.
    /// </summary>
    public IList<string> Keys { get; set; } = [];

    /// <summary>
    /// Gossip protocol version this agent sends: 2 (default, MessagePack) or 1 (the format of 0.3 and earlier). Every
    /// agent reads both. Upgrading a cluster from 0.3: restart each agent on the new release with 1, then, once none
    /// runs 0.3, restart each again without it (an agent of 0.3 cannot read version 2 and would see the others dead).
    /// </summary>
    public int ProtocolVersion { get; set; } = 2;
}

/// <summary>Client authentication (certificates and tokens) and authorization (roles in the replicated state).</summary>
public sealed class SecuritySection
{
    /// <summary>
    /// Refuse clients that present neither a client certificate from the cluster CA nor a valid token, and give each
    /// caller only its roles' permissions. Default true; <c>dev-cluster</c> keeps it on and hands walrusctl an
    /// <c>admin</c> client certificate. When false, callers without a token may do everything (tokens keep their roles).
    /// </summary>
    public bool RequireClientAuth { get; set; } = true;

    /// <summary>
    /// Client-certificate identities (SAN URI <c>walrus://client/NAME</c>, else the common name) that always hold the
    /// admin role, so the first administrator needs no replicated grant. Default <c>admin</c>.
    /// </summary>
    public IList<string> AdminIdentities { get; set; } = [];

    /// <summary>
    /// Require <c>Authorization: Bearer TOKEN</c> (a token whose roles allow read or admin) on the HTTP port's
    /// <c>/metrics</c> and <c>/v1/status</c>; <c>/health</c> and <c>/ready</c> stay open for probes. No HTTP endpoint
    /// changes state. Default false.
    /// </summary>
    public bool HttpRequireToken { get; set; }

    /// <summary>The admin identities in force: <see cref="AdminIdentities"/>, or <c>admin</c> when none is configured.</summary>
    public IReadOnlyList<string> EffectiveAdminIdentities => AdminIdentities.Count > 0 ? [.. AdminIdentities] : ["admin"];
}

/// <summary>Transport and certificates.</summary>
public sealed class TransportSection
{
    /// <summary><c>auto</c> (QUIC when libmsquic is present, else TCP + TLS 1.3), <c>quic</c> or <c>tcp</c>.</summary>
    public string Mode { get; set; } = "auto";

    /// <summary>PEM file of the cluster CA certificate; peers and clients must chain to it.</summary>
    public string CaFile { get; set; } = string.Empty;

    /// <summary>PEM file of this agent's certificate.</summary>
    public string CertFile { get; set; } = string.Empty;

    /// <summary>PEM file of this agent's private key.</summary>
    public string KeyFile { get; set; } = string.Empty;

    /// <summary>Require client certificates on the client port. Peers always use mutual TLS. Default false.</summary>
    public bool RequireClientCertificates { get; set; }

    /// <summary>
    /// Refuse peers whose certificate names no node id (SAN URI <c>walrus://node/ID</c>, which <c>walrusctl certs init</c>
    /// and <c>dev-cluster</c> embed). A peer whose certificate names another node than its Hello is refused either way.
    /// Default true; set false only for certificates issued without node ids (then any certificate of the cluster CA
    /// that is not a client's may speak as any node).
    /// </summary>
    public bool RequirePeerNodeId { get; set; } = true;

    /// <summary>Largest frame accepted, in bytes. Default 16 MiB.</summary>
    public int MaxFrameBytes { get; set; } = 16 * 1024 * 1024;
}

/// <summary>Local store settings (see WalrusGossip.Storage.StorageOptions).</summary>
public sealed class StorageSection
{
    /// <summary><c>always</c>, <c>interval:&lt;ms&gt;</c> or <c>none</c>. Default always.</summary>
    public string Fsync { get; set; } = "always";

    /// <summary><c>auto</c>, <c>uring</c> or <c>psync</c>. Default auto.</summary>
    public string IoEngine { get; set; } = "auto";

    /// <summary>Segment size in bytes. Default 64 MiB.</summary>
    public long MaxSegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Largest entry payload in bytes. Default 4 MiB.</summary>
    public int MaxEntryBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Checkpoint after this many applied entries, at least 1. Default 100,000 (<see cref="Node.NodeOptions.CheckpointEveryEntries"/>).</summary>
    public long CheckpointEveryEntries { get; set; } = (long)new Node.NodeOptions().CheckpointEveryEntries;

    /// <summary>Checkpoint after this many applied payload bytes, at least 1, whichever comes first. Default 256 MiB.</summary>
    public long CheckpointEveryBytes { get; set; } = (long)new Node.NodeOptions().CheckpointEveryBytes;

    /// <summary>Free space kept on the data directory's file system; below it new entries are refused until space returns. Default 512 MiB; 0 disables.</summary>
    public long ReserveBytes { get; set; } = new WalrusGossip.Storage.StorageOptions().ReserveBytes;

    /// <summary>How much of the log to keep; whole segments before both the limit and the latest checkpoint are deleted. Default: everything.</summary>
    public RetentionSection Retention { get; set; } = new();
}

/// <summary>Retention limits (see WalrusGossip.Storage.RetentionPolicy); 0 means no limit.</summary>
public sealed class RetentionSection
{
    /// <summary>Most record bytes kept before the segment being written. Default 0 (no limit).</summary>
    public long MaxBytes { get; set; }

    /// <summary>Most entries kept behind the last index. Default 0 (no limit).</summary>
    public long MaxEntries { get; set; }

    /// <summary>
    /// Oldest a sealed segment may grow, as a .NET TimeSpan string <c>[d.]hh:mm:ss</c> (e.g. <c>7.00:00:00</c> for a week,
    /// <c>06:00:00</c> for six hours): segments whose newest record was written longer ago are deleted at checkpoints
    /// and about once a minute, never past the latest checkpoint. Default 00:00:00 (no age limit); negative is refused.
    /// </summary>
    public TimeSpan MaxAge { get; set; }
}

/// <summary>Raft timing; the defaults are the production node preset (<see cref="Node.NodeOptions"/>).</summary>
public sealed class RaftSection
{
    /// <summary>Tick length in milliseconds, 10 to 10,000. Default 10: with the other defaults, heartbeats every 50 ms and elections after 0.5–1 s without a leader, or 10–100 ms after the leader's connection breaks.</summary>
    public int TickMs { get; set; } = (int)Node.NodeOptions.DefaultTickInterval.TotalMilliseconds;

    /// <summary>Election timeout in ticks (randomised in [n, 2n)). Default 50.</summary>
    public int ElectionTicks { get; set; } = Node.NodeOptions.DefaultElectionTicks;

    /// <summary>Heartbeat interval in ticks, below the election timeout. Default 5.</summary>
    public int HeartbeatTicks { get; set; } = Node.NodeOptions.DefaultHeartbeatTicks;

    /// <summary>
    /// Most snapshot bytes per InstallSnapshot chunk (Raft §7), 256 to half of <c>Transport:MaxFrameBytes</c>. Default
    /// 1 MiB (capped at half the frame limit). Smaller chunks suit slow links; the transfer window is four chunks.
    /// </summary>
    public int SnapshotChunkBytes { get; set; } = new Node.NodeOptions().SnapshotChunkBytes;
}

/// <summary>Section <c>Telemetry</c>: OTLP export of the agent's metrics (the OpenTelemetry protocol, to a collector).</summary>
public sealed class TelemetrySection
{
    /// <summary>Collector endpoint, for example <c>http://collector:4317</c> (gRPC) or <c>http://collector:4318/v1/metrics</c> (HTTP); empty (default) exports nothing over OTLP.</summary>
    public string OtlpEndpoint { get; set; } = "";

    /// <summary><c>grpc</c> (default) or <c>http</c> (HTTP/protobuf).</summary>
    public string OtlpProtocol { get; set; } = "grpc";

    /// <summary>Milliseconds between OTLP exports (default 10,000).</summary>
    public int OtlpExportIntervalMs { get; set; } = 10_000;
}
