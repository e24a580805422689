using System.Diagnostics;
using System.Net;
using System.Reflection;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Agent.Http;
using WalrusGossip.Agent.Network;
using WalrusGossip.Membership;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// The agent's lifetime: binds every port, opens the store, runs the node loop with the real network, clock and
/// disk, keeps the peer address book in step with gossip, bootstraps with <c>--bootstrap-expect</c>, and on SIGTERM
/// stops accepting, hands leadership over, leaves the gossip group and flushes the log.
/// </summary>
/// <remarks>
/// This file composes the agent (ports, transports, the node and its loop, the services) and takes it apart again;
/// the background maintenance loop (address book from gossip, idle memory trimming) is in
/// <c>AgentService.Maintenance.cs</c>.
/// </remarks>
public sealed partial class AgentService : IHostedService, IAsyncDisposable
{
    private readonly AgentOptions _options;
    private readonly ILogger _logger;
    private readonly ILoggerFactory _loggerFactory;
    private readonly SystemClock _clock = new();
    private readonly RaftStateEnricher _raftState;
    private readonly CancellationTokenSource _stop = new();
    private FileSystemDevice? _device;
    private UdpGossipSocket? _udp;
    private PeerNetwork? _peers;
    private ClientService? _clients;
    private LeaderForwarder? _forwarder;
    private NodeSupervisor? _supervisor;
    private IFrameListener? _peerListener;
    private IFrameListener? _gossipListener;
    private IFrameListener? _clientListener;
    private Task? _maintenance;

    /// <summary>Creates the service.</summary>
    /// <param name="options">The agent's options, validated at start (<see cref="AgentOptionsRegistration"/>).</param>
    /// <param name="metrics">Metrics shared with the HTTP endpoints.</param>
    /// <param name="loggerFactory">Logging.</param>
    /// <param name="lifetime">Used to stop the process when the node loop fails on anything but storage (see <see cref="NodeSupervisor"/>).</param>
    /// <param name="raftState">Log enricher kept up to date with the term and role.</param>
    public AgentService(IOptions<AgentOptions> options, AgentMetrics metrics, ILoggerFactory loggerFactory, IHostApplicationLifetime lifetime, RaftStateEnricher raftState)
    {
        _raftState = raftState;
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        Metrics = metrics;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<AgentService>();
        Lifetime = lifetime;
    }

    /// <summary>Metrics.</summary>
    public AgentMetrics Metrics { get; }

    /// <summary>Host lifetime.</summary>
    public IHostApplicationLifetime Lifetime { get; }

    /// <summary>The running node loop; null before start, after a fatal failure, and while the node is reopened after a storage failure.</summary>
    public NodeLoop? Loop => _supervisor?.Current;

    /// <summary>The storage failure (ENOSPC, EIO) the node is down for while it is being reopened, else null.</summary>
    public Exception? StorageFailure => _supervisor?.StorageFailure;

    /// <summary>Storage failures survived and reopen attempts made since start.</summary>
    public (long Failures, long ReopenAttempts) StorageRecoveries => (_supervisor?.StorageFailures ?? 0, _supervisor?.ReopenAttempts ?? 0);

    /// <summary>True when the node stopped on a failure that is not a storage failure (the agent then stops, exit code 1).</summary>
    public bool Failed => _supervisor?.FatalFailure is not null;

    /// <summary>This agent's advertised addresses (client, peer, gossip, http).</summary>
    public IReadOnlyDictionary<string, string> Addresses { get; private set; } = new Dictionary<string, string>();

    /// <summary>
    /// Whether an HTTP request may read <c>/metrics</c> and <c>/v1/status</c>: always when
    /// <c>Security:HttpRequireToken</c> is off; else only with <c>Authorization: Bearer TOKEN</c> naming a token whose
    /// roles allow read (or admin).
    /// </summary>
    /// <param name="authorization">The request's Authorization header, or null.</param>
    /// <returns>True when allowed.</returns>
    public bool AllowsHttpRead(string? authorization)
    {
        if (!_options.Security.HttpRequireToken)
        {
            return true;
        }

        const string bearer = "Bearer ";
        if (authorization is null || !authorization.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) || Loop is not { } loop)
        {
            return false;
        }

        var policy = loop.SecurityPolicy;
        return policy.FindToken(SecurityPolicy.HashSecret(authorization[bearer.Length..].Trim())) is { } token &&
            (policy.Allows(token.Roles, Permission.Read, null) || policy.Allows(token.Roles, Permission.Admin, null));
    }

    /// <summary>Transport mode in use ("tcp" or "quic").</summary>
    public string TransportMode { get; private set; } = "?";

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var o = _options;
        var roots = DevCertificates.LoadCertificatesPem(o.Transport.CaFile);
        var certificate = DevCertificates.LoadPem(o.Transport.CertFile, o.Transport.KeyFile);
        var mode = Enum.Parse<Transport.TransportMode>(o.Transport.Mode, ignoreCase: true);
        var peerTransport = TransportFactory.Create(new TransportOptions
        {
            Mode = mode,
            Certificate = certificate,
            TrustedRoots = roots,
            RequireClientCertificate = true,
            MaxFrameBytes = o.Transport.MaxFrameBytes,
        }, _loggerFactory.CreateLogger(typeof(TransportFactory)), out var reason);
        var clientTransport = TransportFactory.Create(new TransportOptions
        {
            Mode = mode,
            Certificate = certificate,
            TrustedRoots = roots,
            RequireClientCertificate = o.Transport.RequireClientCertificates,
            RequestClientCertificate = true, // a client certificate, when sent, is the caller's identity (Security)
            MaxFrameBytes = o.Transport.MaxFrameBytes,
        }, _loggerFactory.CreateLogger(typeof(TransportFactory)), out _);
        TransportMode = peerTransport.Mode;
        LogTransport(_logger, peerTransport.Mode, reason);

        AgentOptions.TryParseEndPoint(o.Network.ClientListen, out var clientEndPoint);
        AgentOptions.TryParseEndPoint(o.Network.PeerListen, out var peerEndPoint);
        AgentOptions.TryParseEndPoint(o.Network.GossipListen, out var gossipEndPoint);
        var advertise = o.Network.AdvertiseHost;
        AgentOptions.TryParseEndPoint(o.Network.HttpListen, out var httpEndPoint);
        // What other agents and the web view dial: Network:AdvertiseHost, else the bound address (a wildcard bind
        // advertises loopback; IPv6 in brackets).
        string Advertised(IPEndPoint ep) => advertise is not null ? $"{advertise}:{ep.Port}"
            : ep.Address.Equals(IPAddress.Any) || ep.Address.Equals(IPAddress.IPv6Any) ? $"127.0.0.1:{ep.Port}"
            : ep.ToString();
        Addresses = new Dictionary<string, string>
        {
            [MetadataKeys.ClientAddress] = Advertised(clientEndPoint),
            [MetadataKeys.PeerAddress] = Advertised(peerEndPoint),
            [MetadataKeys.GossipAddress] = Advertised(gossipEndPoint),
            [MetadataKeys.HttpAddress] = Advertised(httpEndPoint),
        };

        _udp = Bind("Network:GossipListen (UDP)", () => UdpGossipSocket.Bind(gossipEndPoint, peerTransport.Counters, _loggerFactory.CreateLogger<UdpGossipSocket>()));
        _peerListener = await BindAsync("Network:PeerListen", () => peerTransport.ListenAsync(peerEndPoint, cancellationToken)).ConfigureAwait(false);
        _gossipListener = await BindAsync("Network:GossipListen (TCP)", () => peerTransport.ListenAsync(gossipEndPoint, cancellationToken)).ConfigureAwait(false);
        _clientListener = await BindAsync("Network:ClientListen", () => clientTransport.ListenAsync(clientEndPoint, cancellationToken)).ConfigureAwait(false);

        _device = FileSystemDevice.Create(AgentIoEngine(o.Storage.IoEngine), _loggerFactory.CreateLogger<FileSystemDevice>());
        _peers = new PeerNetwork(peerTransport, _udp, o.Node.Id, Addresses[MetadataKeys.GossipAddress], _loggerFactory.CreateLogger<PeerNetwork>())
        {
            RequirePeerNodeId = o.Transport.RequirePeerNodeId,
        };
        var metadata = new Dictionary<string, string>(Addresses) { [MetadataKeys.Version] = AgentVersion.Current };
        var nodeOptions = new NodeOptions
        {
            NodeId = o.Node.Id,
            GossipAddress = Addresses[MetadataKeys.GossipAddress],
            DataDirectory = o.Node.DataDir,
            GossipSeeds = o.Cluster.Join.Where(s => s != Addresses[MetadataKeys.GossipAddress]).ToList(),
            BootstrapExpect = o.Cluster.BootstrapExpect,
            TargetVoters = o.Cluster.Voters,
            DeadServerGrace = o.Cluster.DeadServerGrace,
            ConsistencyCheckInterval = o.Cluster.ConsistencyCheckInterval,
            ConsistencyCheckEntries = o.Cluster.ConsistencyCheckEntries,
            GossipKeys = [.. o.Gossip.Keys.Select(WalrusGossip.Membership.GossipKeyring.ParseKey)],
            Membership = new WalrusGossip.Membership.MembershipOptions { ProtocolVersion = o.Gossip.ProtocolVersion },
            TickInterval = TimeSpan.FromMilliseconds(o.Raft.TickMs),
            ElectionTicks = o.Raft.ElectionTicks,
            HeartbeatTicks = o.Raft.HeartbeatTicks,
            Metadata = metadata,
            CheckpointEveryEntries = (ulong)o.Storage.CheckpointEveryEntries,
            CheckpointEveryBytes = (ulong)o.Storage.CheckpointEveryBytes,
            SnapshotChunkBytes = Math.Min(o.Raft.SnapshotChunkBytes, o.Transport.MaxFrameBytes / 2), // a chunk and its envelope fit one frame
            SnapshotWindowBytes = 4 * Math.Min(o.Raft.SnapshotChunkBytes, o.Transport.MaxFrameBytes / 2),
            Storage = new StorageOptions
            {
                Durability = DurabilityPolicy.Parse(o.Storage.Fsync),
                MaxSegmentBytes = o.Storage.MaxSegmentBytes,
                MaxEntryBytes = o.Storage.MaxEntryBytes,
                PrepareSegmentsInBackground = true,
                ReserveBytes = o.Storage.ReserveBytes,
                Retention = new RetentionPolicy { MaxBytes = o.Storage.Retention.MaxBytes, MaxEntries = (ulong)o.Storage.Retention.MaxEntries, MaxAge = o.Storage.Retention.MaxAge },
            },
        };
        _supervisor = new NodeSupervisor(
            () =>
            {
                var node = new WalrusNode(nodeOptions, _device, _peers, _clock, new Random(), _loggerFactory.CreateLogger<WalrusNode>());
                return (node, new NodeLoop(node, _clock, _loggerFactory.CreateLogger<NodeLoop>()));
            },
            loop => _peers?.Rebind(loop),
            _ => Lifetime.StopApplication(),
            _loggerFactory.CreateLogger<NodeSupervisor>());
        await _supervisor.StartAsync().ConfigureAwait(false);
        _peers.Start(_supervisor.Current!, _peerListener, _gossipListener);
        _clients = new ClientService(() => _supervisor?.Current, o.Node.Id, ClientAddressOf, n => AgentStatus.Capture(n, _clock.Now, Addresses), Metrics, _loggerFactory.CreateLogger<ClientService>())
        {
            Authorizer = new ClientAuthorizer(o.Security.RequireClientAuth, o.Security.EffectiveAdminIdentities, () => _supervisor?.Current?.SecurityPolicy ?? SecurityPolicy.Empty),
            TransportMode = clientTransport.Mode,
            Certificate = () => PresentedCertificate,
            Forwarder = _forwarder = new LeaderForwarder(
                TransportFactory.Create(new TransportOptions { Mode = mode, TrustedRoots = roots, Certificate = certificate, MaxFrameBytes = o.Transport.MaxFrameBytes }, _loggerFactory.CreateLogger(typeof(TransportFactory)), out _),
                o.Node.Id,
                _loggerFactory.CreateLogger<LeaderForwarder>()),
        };
        _clients.Start(_clientListener, clientTransport.Counters);
        TrackCertificate(roots, peerTransport, clientTransport, _forwarder.Transport);
        Metrics.BindCertificate(() => PresentedCertificate, () => CertificateReloads);
        Metrics.Bind(() => _clients?.ActiveConnections ?? 0, peerTransport.Counters, clientTransport.Counters);
        _maintenance = Task.Run(() => MaintainAsync(_stop.Token), CancellationToken.None);
        LogStarted(_logger, o.Node.Id, Addresses[MetadataKeys.ClientAddress], Addresses[MetadataKeys.PeerAddress], Addresses[MetadataKeys.GossipAddress], o.Network.HttpListen);
    }

    /// <summary>Captures the status on the node loop.</summary>
    /// <returns>The status, or null before start.</returns>
    public Task<AgentStatus>? CaptureStatusAsync() => Loop?.InvokeAsync(n => AgentStatus.Capture(n, _clock.Now, Addresses));

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        LogStopping(_logger);
        if (_clients is not null)
        {
            await _clients.DisposeAsync().ConfigureAwait(false);
        }

        if (Loop is { Completion.IsCompleted: false } loop)
        {
            await HandOverLeadershipAsync(loop).ConfigureAwait(false);
            try
            {
                await loop.InvokeAsync(n =>
                {
                    n.LeaveGossip();
                    return true;
                }).WaitAsync(TimeSpan.FromSeconds(2), cancellationToken).ConfigureAwait(false);
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
            }
        }

        await DisposeAsync().ConfigureAwait(false);
        LogStopped(_logger);
    }

    /// <summary>Stops background work, the loop, the network and the store.</summary>
    /// <returns>A task that completes when everything is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        if (_maintenance is not null)
        {
            await _maintenance.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }

        _sighup?.Dispose();

        if (_supervisor is not null)
        {
            await _supervisor.DisposeAsync().ConfigureAwait(false); // stops reopening, then the loop (flushing the log)
            _supervisor = null;
        }

        if (_peers is not null)
        {
            await _peers.DisposeAsync().ConfigureAwait(false);
            _peers = null;
        }

        if (_forwarder is not null)
        {
            await _forwarder.DisposeAsync().ConfigureAwait(false);
            _forwarder = null;
        }

        foreach (var listener in new[] { _peerListener, _gossipListener, _clientListener })
        {
            if (listener is not null)
            {
                await listener.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (_udp is not null)
        {
            await _udp.DisposeAsync().ConfigureAwait(false);
        }

        _device?.Dispose();
    }

    /// <summary>On a leader, transfers leadership to another voter and waits up to 3 s (wall clock) for it to take over; best effort.</summary>
    private async Task HandOverLeadershipAsync(NodeLoop loop)
    {
        try
        {
            var status = await loop.InvokeAsync(n => n.Status).ConfigureAwait(false);
            if (status.Role != RaftRole.Leader)
            {
                return;
            }

            var target = status.Voters.FirstOrDefault(v => v != status.NodeId);
            if (target == 0)
            {
                return;
            }

            await loop.InvokeAsync(n => n.TransferLeadership(target)).ConfigureAwait(false);
            var started = Stopwatch.GetTimestamp();
            while (Stopwatch.GetElapsedTime(started) < TimeSpan.FromSeconds(3))
            {
                var now = await loop.InvokeAsync(n => n.Status).ConfigureAwait(false);
                if (now.Role != RaftRole.Leader)
                {
                    LogHandedOver(_logger, target);
                    return;
                }

                await Task.Delay(20).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or TaskCanceledException)
        {
        }
    }

    /// <summary>Binds a socket, turning "address in use" and the like into a configuration error naming <paramref name="setting"/>.</summary>
    /// <exception cref="AgentConfigurationException">The socket cannot listen.</exception>
    private static T Bind<T>(string setting, Func<T> bind)
    {
        try
        {
            return bind();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new AgentConfigurationException([$"{setting}: cannot listen: {e.Message}"]);
        }
    }

    /// <summary>Asynchronous <see cref="Bind{T}"/>.</summary>
    /// <exception cref="AgentConfigurationException">The listener cannot listen.</exception>
    private static async Task<T> BindAsync<T>(string setting, Func<ValueTask<T>> bind)
    {
        try
        {
            return await bind().ConfigureAwait(false);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new AgentConfigurationException([$"{setting}: cannot listen: {e.Message}"]);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "transport: {Mode} ({Reason})")]
    private static partial void LogTransport(ILogger logger, string mode, string reason);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "agent {NodeId} started: client {Client}, peer {Peer}, gossip {Gossip}, http {Http}")]
    private static partial void LogStarted(ILogger logger, ulong nodeId, string client, string peer, string gossip, string http);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "stopping: closing client port, handing over leadership, leaving the gossip group")]
    private static partial void LogStopping(ILogger logger);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "leadership handed over to {Target}")]
    private static partial void LogHandedOver(ILogger logger, ulong target);

    [LoggerMessage(EventId = 6, Level = LogLevel.Information, Message = "stopped; log flushed")]
    private static partial void LogStopped(ILogger logger);

    /// <summary>
    /// The write engine for <c>Storage:IoEngine</c>. The node loop writes each group commit itself and waits for its
    /// fdatasync (inline writes), so io_uring has nothing to overlap: its fdatasync runs on a kernel worker thread and
    /// costs a wake-up per commit. <c>auto</c> therefore means <c>psync</c> in the agent (measured: mean group commit
    /// 0.57–0.62 ms with psync against 0.82–1.06 ms with io_uring, 64 clients on one agent, docs/performance.md);
    /// <c>uring</c> still selects io_uring.
    /// </summary>
    internal static IoEngine AgentIoEngine(string configured)
    {
        var engine = Enum.Parse<IoEngine>(configured, ignoreCase: true);
        return engine == IoEngine.Auto ? IoEngine.Psync : engine;
    }
}

/// <summary>The agent's version string.</summary>
public static class AgentVersion
{
    /// <summary>Informational version of this build: <c>VersionPrefix</c> of Directory.Build.props (no commit suffix: it is gossiped within the metadata size limit).</summary>
    public static string Current { get; } =
        typeof(AgentVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(AgentVersion).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";
}
