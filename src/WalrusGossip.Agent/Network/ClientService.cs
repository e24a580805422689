using Microsoft.Extensions.Logging;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Agent.Http;

namespace WalrusGossip.Agent.Network;

/// <summary>
/// Serves the client port: Hello, then requests (append, read, tail, status, members, transfer) multiplexed by
/// request id on one connection. Appends on a follower are answered NOT_LEADER with the leader's client address,
/// and the SDK redirects. A connection that violates the protocol is closed with a logged reason and a counter;
/// every other connection is unaffected.
/// </summary>
/// <remarks>
/// This file holds the wiring: the frame server, the dispatch of each request to its handler, the small
/// status/members/transfer requests and the non-blocking reply. Appends are in <c>ClientService.Appends.cs</c>,
/// reads in <c>ClientService.Reads.cs</c>, tails in <c>ClientService.Tails.cs</c>.
/// </remarks>
public sealed partial class ClientService : IAsyncDisposable
{
    private readonly Func<NodeLoop?> _currentLoop;
    private readonly ulong _nodeId;
    private readonly Func<ulong, string?> _clientAddressOf;
    private readonly Func<WalrusNode, AgentStatus> _status;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private FrameServer? _server;
    private Task? _serving;

    /// <summary>Creates the service.</summary>
    /// <param name="loop">The node loop in service, read at each request; null while the node is down (reopening after a storage failure: requests are answered UNAVAILABLE).</param>
    /// <param name="nodeId">This agent's id.</param>
    /// <param name="clientAddressOf">Client address of a node id (from gossip metadata), or null when unknown.</param>
    /// <param name="status">Captures the agent status on the loop.</param>
    /// <param name="metrics">Metrics sink.</param>
    /// <param name="logger">Diagnostics.</param>
    public ClientService(Func<NodeLoop?> loop, ulong nodeId, Func<ulong, string?> clientAddressOf, Func<WalrusNode, AgentStatus> status, AgentMetrics metrics, ILogger logger)
    {
        _currentLoop = loop;
        _nodeId = nodeId;
        _clientAddressOf = clientAddressOf;
        _status = status;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Client authentication and authorization; null (tests): every client may do everything.</summary>
    public ClientAuthorizer? Authorizer { get; init; }

    /// <summary>The certificate the agent presents, whose expiry status responses report; null for none.</summary>
    public Func<System.Security.Cryptography.X509Certificates.X509Certificate2?>? Certificate { get; init; }

    /// <summary>Transport mode reported in status responses ("tcp" or "quic").</summary>
    public string TransportMode { get; init; } = "tcp";

    /// <summary>Open client connections (handshaking or in session).</summary>
    public int ActiveConnections => _server?.ActiveConnections ?? 0;

    /// <summary>Starts accepting clients on <paramref name="listener"/>.</summary>
    /// <param name="listener">The client-port listener.</param>
    /// <param name="counters">The client transport's counters (protocol errors are counted there).</param>
    public void Start(IFrameListener listener, TransportCounters counters)
    {
        _server = new FrameServer(
            listener,
            new FrameServerOptions
            {
                Hello = new HelloAcceptOptions
                {
                    LocalNodeId = _nodeId,
                    AllowedRoles = [ConnectionRole.Client],
                    AuthenticateClient = Authorizer is null ? null : (hello, certificate) =>
                    {
                        var refusal = Authorizer.Authenticate(hello, certificate);
                        if (refusal is not null)
                        {
                            _metrics.CountUnauthenticated();
                        }

                        return refusal;
                    },
                },
            },
            (session, _, message, cancellationToken) =>
            {
                var principal = session.State as ClientPrincipal;
                if (principal is null && Authorizer is not null)
                {
                    session.State = principal = Authorizer.Identify(session.Hello, session.Connection.RemoteCertificate);
                }

                if (principal is not null && Denied(principal, message) is { } denied)
                {
                    _metrics.CountPermissionDenied();
                    LogPermissionDenied(_logger, principal.ToString(), message.Descriptor.Name, denied);
                    Reply(session.Connection, MessageTypes.TypeOf(DeniedResponse(message, denied)), DeniedResponse(message, denied));
                    return ValueTask.CompletedTask;
                }

                Dispatch(session.Connection, message, cancellationToken, principal);
                return ValueTask.CompletedTask;
            },
            counters,
            _logger);
        _serving = Task.Run(() => _server.RunAsync(_stop.Token));
    }

    /// <summary>Stops accepting and closes connections.</summary>
    /// <returns>A task that completes when every connection has closed (or after 5 s at most).</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_serving is not null)
        {
            try
            {
                await _serving.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        _stop.Dispose();
    }

    /// <summary>Hands one decoded request to its handler; handlers answer on their own (often from the node loop).</summary>
    /// <exception cref="ProtocolException">The message is not a client request (the connection is closed).</exception>
    private void Dispatch(IFrameConnection connection, IMessage message, CancellationToken cancellationToken, ClientPrincipal? principal)
    {
        switch (message)
        {
            case AppendRequest append:
                Append(connection, append, cancellationToken);
                break;
            case AppendBatchRequest batch:
                AppendBatch(connection, batch, cancellationToken);
                break;
            case ReadRequest read:
                _ = ReadAsync(connection, read, cancellationToken);
                break;
            case TailRequest tail:
                _ = TailAsync(connection, tail, cancellationToken);
                break;
            case StreamInfoRequest info:
                _ = StreamInfoAsync(connection, info, principal, cancellationToken);
                break;
            case ConsumerRequest consumer:
                _ = ConsumerAsync(connection, consumer, principal);
                break;
            case FetchRequest fetch:
                _ = FetchAsync(connection, fetch, cancellationToken);
                break;
            case AckRequest ack:
                _ = AckAsync(connection, ack);
                break;
            case StatusRequest status:
                _ = StatusAsync(connection, status, cancellationToken);
                break;
            case MembersRequest members:
                _ = MembersAsync(connection, members, cancellationToken);
                break;
            case TransferLeaderRequest transfer:
                _ = TransferAsync(connection, transfer, cancellationToken);
                break;
            case CompactRequest compact:
                _ = CompactAsync(connection, compact);
                break;
            case BackupRequest backup:
                _ = BackupAsync(connection, backup);
                break;
            case MemberChangeRequest change:
                _ = MemberChangeAsync(connection, change);
                break;
            case ConsistencyCheckRequest check:
                _ = CheckConsistencyAsync(connection, check);
                break;
            case KeyringRequest keyring:
                _ = KeyringAsync(connection, keyring);
                break;
            case AuthRequest auth:
                _ = AuthAsync(connection, auth, principal);
                break;
            default:
                throw new ProtocolException(ProtocolErrorKind.UnknownMessageType, $"{message.Descriptor.Name} is not a client request");
        }
    }

    /// <summary>Answers a status request with the agent status captured on the node loop.</summary>
    private async Task StatusAsync(IFrameConnection connection, StatusRequest request, CancellationToken cancellationToken)
    {
        var (ran, status) = await TryInvokeAsync(_status).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.StatusResponse, new StatusResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable });
            return;
        }

        var response = StatusMapper.ToProto(status, request.RequestId, _clientAddressOf, TransportMode);
        if (Certificate?.Invoke() is { } presented)
        {
            response.CertificateNotAfterUnix = new DateTimeOffset(presented.NotAfter.ToUniversalTime()).ToUnixTimeSeconds();
        }

        Reply(connection, MessageType.StatusResponse, response);
    }

    /// <summary>Answers a members request with the membership captured on the node loop.</summary>
    private async Task MembersAsync(IFrameConnection connection, MembersRequest request, CancellationToken cancellationToken)
    {
        var (ran, status) = await TryInvokeAsync(_status).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.MembersResponse, new MembersResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable });
            return;
        }

        Reply(connection, MessageType.MembersResponse, StatusMapper.ToMembers(status, request.RequestId));
    }

    /// <summary>Starts a leadership transfer on the leader; elsewhere answers NOT_LEADER, and INVALID_ARGUMENT for a target that is not a voter.</summary>
    private async Task TransferAsync(IFrameConnection connection, TransferLeaderRequest request, CancellationToken cancellationToken)
    {
        var (ran, (started, leader)) = await TryInvokeAsync(n => (n.TransferLeadership(request.TargetNodeId), n.Status.LeaderId)).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.TransferLeaderResponse, new TransferLeaderResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        Reply(connection, MessageType.TransferLeaderResponse, new TransferLeaderResponse
        {
            RequestId = request.RequestId,
            Status = started ? ResponseStatus.Ok : leader == _nodeId ? ResponseStatus.InvalidArgument : ResponseStatus.NotLeader,
            LeaderId = leader,
            Message = started ? $"transferring leadership to {request.TargetNodeId}" : leader == _nodeId ? $"{request.TargetNodeId} is not a voter" : "send the request to the leader",
        });
    }

    /// <summary>Shows this agent's retention state and, when asked, starts a checkpoint (each agent compacts its own log).</summary>
    private async Task CompactAsync(IFrameConnection connection, CompactRequest request)
    {
        var (ran, (started, info)) = await TryInvokeAsync(n => (request.CheckpointNow && n.CheckpointNow(), n.GetRetentionInfo())).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.CompactResponse, new CompactResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        Reply(connection, MessageType.CompactResponse, new CompactResponse
        {
            RequestId = request.RequestId,
            Status = ResponseStatus.Ok,
            CheckpointStarted = started,
            FirstIndex = info.FirstIndex,
            LastIndex = info.LastIndex,
            CheckpointIndex = info.CheckpointIndex,
            AppliedIndex = info.AppliedIndex,
            DataBytes = info.DataBytes,
            Retention = string.Create(System.Globalization.CultureInfo.InvariantCulture, $"max-bytes={info.Policy.MaxBytes} max-entries={info.Policy.MaxEntries}"),
            RetentionMaxAgeMs = (long)info.Policy.MaxAge.TotalMilliseconds,
            Checkpointing = info.Checkpointing,
            Message = !request.CheckpointNow ? string.Empty
                : started ? $"checkpoint at index {info.AppliedIndex} started; retention runs once it is durable"
                : info.Checkpointing ? "a checkpoint is already being written"
                : $"nothing applied since the checkpoint at {info.CheckpointIndex}",
        });
    }

    /// <summary>Why a request is answered UNAVAILABLE while the node is down.</summary>
    private const string NodeDownMessage = "this agent's node is down after a storage failure (disk full or I/O error) and is being reopened; retry, or ask another agent";

    /// <summary>Runs <paramref name="work"/> on the node loop in service; Ran is false when the node is down or its loop stopped before running it.</summary>
    /// <summary>
    /// Starts a node operation that answers through a callback (on the loop) and waits for the answer: Ran false when
    /// the node is down, Answer null when it did not come within <paramref name="timeout"/>.
    /// </summary>
    private async Task<(bool Ran, T? Answer)> AwaitAnswerAsync<T>(Action<WalrusNode, Action<T>> start, TimeSpan timeout)
        where T : class
    {
        var answer = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        var (ran, _) = await TryInvokeAsync(n =>
        {
            start(n, r => answer.TrySetResult(r));
            return true;
        }).ConfigureAwait(false);
        if (!ran)
        {
            return (false, null);
        }

        try
        {
            return (true, await answer.Task.WaitAsync(timeout).ConfigureAwait(false));
        }
        catch (TimeoutException)
        {
            return (true, null);
        }
    }

    private async Task<(bool Ran, T Value)> TryInvokeAsync<T>(Func<WalrusNode, T> work)
    {
        if (_currentLoop() is not { } loop)
        {
            return (false, default!);
        }

        try
        {
            return (true, await loop.InvokeAsync(work).ConfigureAwait(false));
        }
        catch (OperationCanceledException)
        {
            return (false, default!);
        }
    }

    /// <summary>Queues an answer without blocking or writing on the calling thread (often the node loop); a thread-pool writer sends it.</summary>
    /// <remarks>An answer larger than the frame limit is not sent; it is logged instead.</remarks>
    private void Reply(IFrameConnection connection, MessageType type, IMessage message)
    {
        try
        {
            connection.Post(type, message);
        }
        catch (ProtocolException e)
        {
            LogReplyTooLarge(_logger, type, e.Message);
        }
    }

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "a {Type} answer was not sent: {Reason}")]
    private static partial void LogReplyTooLarge(ILogger logger, MessageType type, string reason);
}
