using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using Polly.Retry;
using Polly.Timeout;
using WalrusGossip.Client.Connections;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Client;

/// <summary>
/// The WalrusGossip client: appends entries to the replicated log, reads them back by index or range, tails new
/// ones, and asks agents for status. Thread-safe; create one per application and share it.
/// </summary>
/// <remarks>
/// <para>
/// The client keeps one multiplexed connection per agent endpoint. Any agent accepts any request; when an agent
/// answers NOT_LEADER the client follows the leader's address it names (up to
/// <see cref="WalrusClientOptions.MaxRedirects"/> times per attempt) and remembers it for later requests.
/// </para>
/// <para>
/// Every request runs in a Polly resilience pipeline: a per-attempt timeout
/// (<see cref="WalrusClientOptions.RequestTimeout"/>) inside a retry with exponential backoff and jitter for transient
/// outcomes (unavailable, timeout, overloaded, lost connections); each endpoint has a circuit breaker that makes
/// requests skip it after repeated connection failures. Once retries are exhausted the client throws a
/// <see cref="WalrusException"/> subclass. While an endpoint's circuit is closed and its connection open, a request's
/// first attempt skips the pipeline and goes straight to the connection, with the same timeout; any other outcome
/// than an OK answer continues in the pipeline as its first attempt.
/// </para>
/// <para>
/// Every append carries a client session id and a sequence number that grows by one per logical append; retries of
/// the same append reuse its sequence, so the cluster answers a retry with the original index and never stores the
/// entry twice (Raft dissertation §6.3). A session carries one append at a time, so that its sequences reach the
/// cluster in order even across retries and leader changes; concurrent requests use up to
/// <see cref="WalrusClientOptions.MaxConcurrentAppends"/> sessions, the first of which is
/// <see cref="WalrusClientOptions.ClientId"/>, and appends waiting for a session are coalesced into one batch request
/// (<see cref="WalrusClientOptions.MaxCoalescedAppends"/>).
/// </para>
/// </remarks>
public sealed partial class WalrusClient : IAsyncDisposable
{
    /// <summary>
    /// The key of a peer's client address in a status response's address map (walrus.proto, <c>PeerInfo.addresses</c>):
    /// the agents copy it from the gossip metadata key of the same name (WalrusGossip.Membership.MetadataKeys.ClientAddress),
    /// which the SDK does not reference.
    /// </summary>
    private const string ClientAddressKey = "client";

    private readonly WalrusClientOptions _options;
    private readonly ILogger _logger;
    private readonly ITransport _transport;
    private readonly ConcurrentDictionary<string, EndpointState> _endpoints = new(StringComparer.Ordinal);
    private readonly string[] _configured;
    private readonly ResiliencePipeline _pipeline;
    private readonly List<X509Certificate2> _ownedCertificates = [];
    private readonly ConcurrentDictionary<EndpointConnection, byte> _tails = new();
    private string? _leaderHint;
    private ParsedAddress? _lastLeaderAddress;
    private int _cursor;
    private int _disposed;

    /// <summary>Creates a client. Nothing connects until the first request.</summary>
    /// <param name="options">Settings; validated and copied (later changes have no effect).</param>
    /// <param name="logger">Logger for retries, redirects and connection failures; null for none.</param>
    /// <exception cref="ArgumentException">A setting is invalid, or a certificate file cannot be read; the message names it.</exception>
    public WalrusClient(WalrusClientOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _configured = [.. options.Endpoints.Select(e => EndpointAddress.Parse(e).ToString()).Distinct(StringComparer.Ordinal)];
        var transportOptions = new TransportOptions
        {
            Mode = options.TransportMode,
            MaxFrameBytes = options.MaxFrameBytes,
            TrustedRoots = options.CaCertificates ?? LoadCa(options.CaFile),
            Certificate = options.ClientCertificate ?? LoadClientCertificate(options.ClientCertificateFile, options.ClientKeyFile),
            ValidateRemoteName = options.ValidateServerName,
            ConnectTimeout = options.ConnectTimeout,
            HandshakeTimeout = options.ConnectTimeout,
        };
        _transport = TransportFactory.Create(transportOptions, _logger, out _);
        foreach (var key in _configured)
        {
            GetEndpoint(EndpointAddress.Parse(key));
        }

        _pipeline = BuildPipeline(options);
        _lanes = new SessionLanes(options.ClientId);
        _freeLanes = options.MaxConcurrentAppends;
    }

    /// <summary>This client's first session id (<see cref="WalrusClientOptions.ClientId"/>), carried by appends made one at a time; concurrent appends use ids derived from it.</summary>
    public ulong ClientId => _options.ClientId;

    /// <summary>The configured endpoints, as canonical <c>host:port</c>.</summary>
    public IReadOnlyList<string> Endpoints => _configured;

    /// <summary>The endpoint the client currently believes is the leader's, or null when it knows none.</summary>
    public string? LeaderEndpoint => Volatile.Read(ref _leaderHint);

    /// <summary>The transport in use: <c>quic</c> or <c>tcp</c>.</summary>
    public string TransportMode => _transport.Mode;

    /// <summary>Appends one entry and waits until it is committed (durable on a quorum).</summary>
    /// <param name="payload">The entry's bytes; at most the cluster's entry size limit. The client copies them when it
    /// builds the request, which can be after this method returns (while every session has a request in flight, appends
    /// wait to be coalesced): leave the memory unchanged until the returned task completes.</param>
    /// <param name="stream">Optional stream name (at most 255 UTF-8 bytes), or null.</param>
    /// <param name="cancellationToken">Stops waiting. The entry may still be committed.</param>
    /// <returns>The entry's index and term.</returns>
    /// <exception cref="WalrusInvalidArgumentException">The payload or stream name is too large.</exception>
    /// <exception cref="WalrusUnavailableException">No leader or quorum, or no endpoint reachable, after all retries.</exception>
    /// <exception cref="WalrusTimeoutException">No attempt completed in time; the entry may or may not be committed.</exception>
    /// <exception cref="WalrusOverloadedException">The cluster kept refusing under back-pressure.</exception>
    /// <exception cref="WalrusSessionExpiredException">The cluster forgot this client's session.</exception>
    public Task<AppendResult> AppendAsync(ReadOnlyMemory<byte> payload, string? stream = null, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var append = new QueuedAppend(stream, payload);
        Enqueue(append, cancellationToken);
        return append.Single;
    }

    /// <summary>
    /// Appends several entries in one request; they are committed at consecutive indexes, in order. Each entry takes
    /// its own sequence number, and a retried batch reuses them all. Keep batches at 1,024 entries or fewer: the cluster
    /// remembers the 1,024 most recent answers per session, so a larger batch that is retried after it was partly
    /// applied can be refused with <see cref="WalrusSessionExpiredException"/>.
    /// </summary>
    /// <param name="entries">The entries: stream name (or null) and payload each; at least one. As for
    /// <see cref="AppendAsync"/>, leave the list and the payloads' memory unchanged until the returned task completes.</param>
    /// <param name="cancellationToken">Stops waiting. The entries may still be committed.</param>
    /// <returns>One result per entry, in order.</returns>
    /// <exception cref="ArgumentException"><paramref name="entries"/> is empty.</exception>
    /// <exception cref="WalrusException">As for <see cref="AppendAsync"/>.</exception>
    public Task<IReadOnlyList<AppendResult>> AppendBatchAsync(
        IReadOnlyList<(string? Stream, ReadOnlyMemory<byte> Payload)> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        if (entries.Count == 0)
        {
            throw new ArgumentException("a batch needs at least one entry", nameof(entries));
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var append = new QueuedAppend(entries);
        Enqueue(append, cancellationToken);
        return append.Many;
    }

    /// <summary>Reads the entry at one index.</summary>
    /// <param name="index">Log index, from 1.</param>
    /// <param name="consistency">Linearizable (default) or stale.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is 0.</exception>
    /// <exception cref="WalrusNotFoundException">The index is past the end of the committed log, or holds an internal Raft entry (no-op, configuration change) rather than an appended one.</exception>
    /// <exception cref="WalrusCompactedException">The index precedes the retained log.</exception>
    /// <exception cref="WalrusException">Unavailable, timeout or overloaded after all retries.</exception>
    public async Task<LogEntry> ReadAsync(ulong index, Consistency consistency = Consistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(index);
        var result = await ReadRangeAsync(index, 1, 0, consistency, null, cancellationToken).ConfigureAwait(false);
        if (result.Entries.Count == 0 || result.Entries[0].Index != index)
        {
            throw new WalrusNotFoundException($"index {index} holds no application entry: it is past the last committed index {result.LastIndex} or an internal Raft entry");
        }

        return result.Entries[0];
    }

    /// <summary>Reads consecutive committed entries starting at <paramref name="fromIndex"/>.</summary>
    /// <param name="fromIndex">First index to return, from 1.</param>
    /// <param name="maxCount">Most entries to return; 0 for the agent's default.</param>
    /// <param name="maxBytes">Most payload bytes to return; 0 for the agent's default. At least one entry is returned when one exists.</param>
    /// <param name="consistency">Linearizable (default) or stale.</param>
    /// <param name="stream">Only entries of this stream; null for all.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entries (empty when <paramref name="fromIndex"/> is past the end) and the agent's log bounds.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fromIndex"/> is 0 or a limit is negative.</exception>
    /// <exception cref="WalrusCompactedException">The index precedes the retained log.</exception>
    /// <exception cref="WalrusException">Unavailable, timeout or overloaded after all retries.</exception>
    public async Task<ReadRangeResult> ReadRangeAsync(
        ulong fromIndex,
        int maxCount = 0,
        long maxBytes = 0,
        Consistency consistency = Consistency.Linearizable,
        string? stream = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fromIndex);
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        ArgumentOutOfRangeException.ThrowIfNegative(maxBytes);
        var request = new ReadRequest
        {
            FromIndex = fromIndex,
            MaxCount = (uint)maxCount,
            MaxBytes = (ulong)maxBytes,
            Consistency = consistency == Consistency.Stale ? ReadConsistency.Stale : ReadConsistency.Linearizable,
            Stream = stream ?? string.Empty,
        };
        ReadResponse read;
        try
        {
            var (response, _) = await ExecuteAsync(MessageType.ReadRequest, request, cancellationToken).ConfigureAwait(false);
            read = (ReadResponse)response;
        }
        catch (WalrusNotFoundException)
        {
            return new ReadRangeResult([], 0, 0, 0);
        }

        var entries = new LogEntry[read.Entries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            entries[i] = ProtoMapping.ToEntry(read.Entries[i]);
        }

        return new ReadRangeResult(entries, read.FirstIndex, read.LastIndex, read.CommitIndex);
    }

    /// <summary>Asks one agent (the leader when known, else any) for its Raft status, including what it knows of its peers.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The status.</returns>
    /// <exception cref="WalrusException">No endpoint answered after all retries.</exception>
    public async Task<NodeStatus> GetStatusAsync(CancellationToken cancellationToken = default)
    {
        var (response, endpoint) = await ExecuteAsync(MessageType.StatusRequest, new StatusRequest(), cancellationToken).ConfigureAwait(false);
        return ProtoMapping.ToStatus(endpoint, (StatusResponse)response);
    }

    /// <summary>Asks one specific endpoint for its status, with a single attempt (no retries, no redirects).</summary>
    /// <param name="endpoint">The agent's client endpoint, <c>host:port</c>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The status.</returns>
    /// <exception cref="ArgumentException"><paramref name="endpoint"/> is not <c>host:port</c>.</exception>
    /// <exception cref="WalrusUnavailableException">The endpoint cannot be reached.</exception>
    /// <exception cref="WalrusTimeoutException">It did not answer within <see cref="WalrusClientOptions.RequestTimeout"/>.</exception>
    public async Task<NodeStatus> GetStatusAsync(string endpoint, CancellationToken cancellationToken = default)
    {
        var (key, message) = await AskOneAsync(endpoint, MessageType.StatusRequest, new StatusRequest(), cancellationToken).ConfigureAwait(false);
        return ProtoMapping.ToStatus(key, (StatusResponse)message);
    }

    /// <summary>
    /// Shows one agent's log retention state and, with <paramref name="checkpointNow"/>, has it take a checkpoint now
    /// (retention then deletes the segments its policy lets go once the checkpoint is durable). Each agent compacts its
    /// own log, so this goes to exactly <paramref name="endpoint"/>, in a single attempt.
    /// </summary>
    /// <param name="endpoint">The agent's client endpoint, <c>host:port</c>.</param>
    /// <param name="checkpointNow">Start a checkpoint instead of waiting for the next interval.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The agent's state as of the answer.</returns>
    /// <exception cref="ArgumentException"><paramref name="endpoint"/> is not <c>host:port</c>.</exception>
    /// <exception cref="WalrusUnavailableException">The endpoint cannot be reached.</exception>
    /// <exception cref="WalrusTimeoutException">It did not answer within <see cref="WalrusClientOptions.RequestTimeout"/>.</exception>
    public async Task<CompactionInfo> CompactAsync(string endpoint, bool checkpointNow, CancellationToken cancellationToken = default)
    {
        var (key, message) = await AskOneAsync(endpoint, MessageType.CompactRequest, new CompactRequest { CheckpointNow = checkpointNow }, cancellationToken).ConfigureAwait(false);
        var r = (CompactResponse)message;
        return new CompactionInfo(key, r.FirstIndex, r.LastIndex, r.CheckpointIndex, r.AppliedIndex, r.DataBytes, r.Retention, r.Checkpointing, r.CheckpointStarted, r.Message)
        {
            RetentionMaxAge = TimeSpan.FromMilliseconds(r.RetentionMaxAgeMs),
        };
    }

    /// <summary>
    /// Reads one piece of a consistent backup from exactly <paramref name="endpoint"/> (<c>walrusctl snapshot save</c>,
    /// etcd's <c>snapshot save</c>). The first call (<paramref name="upToIndex"/> 0) pins the backup at that agent and
    /// returns its checkpoint, its first retained index and its applied index; read on from the index after the last
    /// entry returned, with that <see cref="BackupPiece.UpToIndex"/>, until it is reached. One attempt, no redirects.
    /// </summary>
    /// <param name="endpoint">The agent's client endpoint, <c>host:port</c>.</param>
    /// <param name="fromIndex">First entry wanted; ignored on the first call.</param>
    /// <param name="upToIndex">0 to pin a new backup, afterwards the pinned index.</param>
    /// <param name="maxBytes">Most entry bytes in the answer (the agent caps it at 8 MiB); 0 for its default, 4 MiB.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The piece.</returns>
    /// <exception cref="WalrusCompactedException">Retention deleted <paramref name="fromIndex"/> meanwhile: start the backup again.</exception>
    /// <exception cref="WalrusInvalidArgumentException">The range is not within what the agent has applied (another agent, or a restarted one).</exception>
    /// <exception cref="WalrusUnavailableException">The endpoint cannot be reached or its node is down.</exception>
    /// <exception cref="WalrusTimeoutException">It did not answer within <see cref="WalrusClientOptions.RequestTimeout"/>.</exception>
    public async Task<BackupPiece> ReadBackupAsync(string endpoint, ulong fromIndex, ulong upToIndex, ulong maxBytes = 0, CancellationToken cancellationToken = default)
    {
        var request = new BackupRequest { FromIndex = fromIndex, UpToIndex = upToIndex, MaxBytes = maxBytes };
        var (key, message) = await AskOneAsync(endpoint, MessageType.BackupRequest, request, cancellationToken).ConfigureAwait(false);
        var r = (BackupResponse)message;
        return new BackupPiece(key, r.Snapshot, r.FirstIndex, r.UpToIndex, [.. r.Entries]);
    }

    /// <summary>Asks the SWIM view of one agent (the leader when known, else any): every member with state and metadata.</summary>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The members, the answering agent included.</returns>
    /// <exception cref="WalrusException">No endpoint answered after all retries.</exception>
    public async Task<IReadOnlyList<ClusterMember>> GetMembersAsync(CancellationToken cancellationToken = default)
    {
        var (response, _) = await ExecuteAsync(MessageType.MembersRequest, new MembersRequest(), cancellationToken).ConfigureAwait(false);
        return [.. ((MembersResponse)response).Members.Select(ProtoMapping.ToMember)];
    }

    /// <summary>Asks the leader to hand leadership to another voter (Raft dissertation §3.10). Completes once the transfer has started.</summary>
    /// <param name="targetNodeId">The voter to become leader; 0 lets the leader choose the most up-to-date one.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The leader after the request, when known, and the agent's message.</returns>
    /// <exception cref="WalrusInvalidArgumentException">The target is not a voter of the cluster.</exception>
    /// <exception cref="WalrusException">No leader could be reached after all retries.</exception>
    public async Task<TransferLeaderResult> TransferLeaderAsync(ulong targetNodeId, CancellationToken cancellationToken = default)
    {
        var request = new TransferLeaderRequest { TargetNodeId = targetNodeId };
        var (response, _) = await ExecuteAsync(MessageType.TransferLeaderRequest, request, cancellationToken).ConfigureAwait(false);
        var transfer = (TransferLeaderResponse)response;
        return new TransferLeaderResult(transfer.LeaderId, transfer.Message);
    }

    /// <summary>Closes every connection. Requests still waiting fail; tails end with <see cref="ObjectDisposedException"/>.</summary>
    /// <returns>A task that completes when every connection is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        foreach (var endpoint in _endpoints.Values)
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var tail in _tails.Keys)
        {
            await tail.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var certificate in _ownedCertificates)
        {
            certificate.Dispose();
        }
    }

    private X509Certificate2Collection? LoadCa(string? path)
    {
        if (path is null)
        {
            return null;
        }

        try
        {
            var roots = DevCertificates.LoadCertificatesPem(path);
            _ownedCertificates.AddRange(roots);
            return roots;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"WalrusClientOptions.CaFile '{path}': {e.Message}", nameof(path), e);
        }
    }

    private X509Certificate2? LoadClientCertificate(string? certificatePath, string? keyPath)
    {
        if (certificatePath is null)
        {
            return null;
        }

        try
        {
            var certificate = DevCertificates.LoadPem(certificatePath, keyPath ?? certificatePath);
            _ownedCertificates.Add(certificate);
            return certificate;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or CryptographicException)
        {
            throw new ArgumentException($"WalrusClientOptions.ClientCertificateFile '{certificatePath}': {e.Message}", nameof(certificatePath), e);
        }
    }

    private ResiliencePipeline BuildPipeline(WalrusClientOptions options)
    {
        var builder = new ResiliencePipelineBuilder();
        if (options.MaxRetries > 0)
        {
            builder.AddRetry(new RetryStrategyOptions
            {
                MaxRetryAttempts = options.MaxRetries,
                BackoffType = DelayBackoffType.Exponential,
                UseJitter = true,
                Delay = options.RetryBaseDelay,
                MaxDelay = options.RetryMaxDelay,
                ShouldHandle = static args => ValueTask.FromResult(IsRetryable(args.Outcome.Exception)),
                OnRetry = args =>
                {
                    LogRetry(_logger, args.AttemptNumber + 1, args.RetryDelay.TotalMilliseconds, args.Outcome.Exception?.Message ?? "no answer");
                    return default;
                },
            });
        }

        builder.AddTimeout(new TimeoutStrategyOptions { Timeout = options.RequestTimeout });
        return builder.Build();
    }

    private static bool IsRetryable(Exception? exception) =>
        exception is WalrusException { IsTransient: true } or TimeoutRejectedException;

    [LoggerMessage(EventId = 3010, Level = LogLevel.Debug, Message = "walrus client: retry {Attempt} in {DelayMs:0} ms after: {Reason}")]
    private static partial void LogRetry(ILogger logger, int attempt, double delayMs, string reason);
}
