using System.Diagnostics;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Agent.Http;
using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Storage;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>
/// Serves the client port: Hello, then requests (append, read, tail, status, members, transfer) multiplexed by
/// request id on one connection. Appends on a follower are answered NOT_LEADER with the leader's client address,
/// and the SDK redirects. A connection that violates the protocol is closed with a logged reason and a counter;
/// every other connection is unaffected.
/// </summary>
public sealed partial class ClientService : IAsyncDisposable
{
    private const int MaxReadEntries = 10_000;

    /// <summary>Largest read answer in payload bytes: well under the 16 MiB frame limit, with room for one more entry.</summary>
    private const ulong MaxReadBytes = 8UL << 20;
    private readonly NodeLoop _loop;
    private readonly ulong _nodeId;
    private readonly Func<ulong, string?> _clientAddressOf;
    private readonly Func<WalrusNode, AgentStatus> _status;
    private readonly AgentMetrics _metrics;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private FrameServer? _server;
    private Task? _serving;
    private long _admittedBytes;

    /// <summary>Creates the service.</summary>
    /// <param name="loop">The node loop.</param>
    /// <param name="nodeId">This agent's id.</param>
    /// <param name="clientAddressOf">Client address of a node id (from gossip metadata), or null when unknown.</param>
    /// <param name="status">Captures the agent status on the loop.</param>
    /// <param name="metrics">Metrics sink.</param>
    /// <param name="logger">Diagnostics.</param>
    public ClientService(NodeLoop loop, ulong nodeId, Func<ulong, string?> clientAddressOf, Func<WalrusNode, AgentStatus> status, AgentMetrics metrics, ILogger logger)
    {
        _loop = loop;
        _nodeId = nodeId;
        _clientAddressOf = clientAddressOf;
        _status = status;
        _metrics = metrics;
        _logger = logger;
    }

    /// <summary>Forwards single appends received while a follower to the leader; null disables forwarding.</summary>
    public LeaderForwarder? Forwarder { get; init; }

    /// <summary>
    /// Most payload bytes of appends admitted and not yet answered, across all connections (default 64 MiB). An append
    /// that would exceed it is answered OVERLOADED at once (the SDK backs off and retries), so a flood of requests
    /// cannot queue unbounded memory in front of the node loop; the Raft core's uncommitted-bytes limit and the
    /// log's batch limit bound what lies behind it.
    /// </summary>
    public long MaxAdmittedBytes { get; init; } = 64L << 20;

    /// <summary>Payload bytes of appends admitted and not yet answered.</summary>
    public long AdmittedBytes => Interlocked.Read(ref _admittedBytes);

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
            new FrameServerOptions { Hello = new HelloAcceptOptions { LocalNodeId = _nodeId, AllowedRoles = [ConnectionRole.Client] } },
            (session, _, message, cancellationToken) =>
            {
                Dispatch(session.Connection, message, cancellationToken);
                return ValueTask.CompletedTask;
            },
            counters,
            _logger);
        _serving = Task.Run(() => _server.RunAsync(_stop.Token));
    }

    /// <summary>Stops accepting and closes connections.</summary>
    /// <returns>A task that completes when every connection has closed.</returns>
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

    private void Dispatch(IFrameConnection connection, IMessage message, CancellationToken cancellationToken)
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
            case StatusRequest status:
                _ = StatusAsync(connection, status, cancellationToken);
                break;
            case MembersRequest members:
                _ = MembersAsync(connection, members, cancellationToken);
                break;
            case TransferLeaderRequest transfer:
                _ = TransferAsync(connection, transfer, cancellationToken);
                break;
            default:
                throw new ProtocolException(ProtocolErrorKind.UnknownMessageType, $"{message.Descriptor.Name} is not a client request");
        }
    }

    private void Append(IFrameConnection connection, AppendRequest request, CancellationToken cancellationToken)
    {
        byte[] command;
        try
        {
            command = AppendCommand.Encode(request.ClientId, request.Sequence, request.Stream.Length == 0 ? null : request.Stream, request.Payload.Span, request.AcknowledgedBelow);
        }
        catch (ArgumentException e)
        {
            Reply(connection, MessageType.AppendResponse, new AppendResponse { RequestId = request.RequestId, Status = ResponseStatus.InvalidArgument, Message = e.Message });
            return;
        }

        if (!TryAdmit(command.Length))
        {
            ReplyOverloaded(connection, request.RequestId);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        _loop.Post(node => node.Append(request.ClientId, request.Sequence, command, result =>
        {
            Release(command.Length);
            if (result.Status == RequestStatus.Ok)
            {
                _metrics.ObserveAppend(Stopwatch.GetElapsedTime(started));
            }

            if (result.Status == RequestStatus.NotLeader && result.LeaderId != 0 && result.LeaderId != _nodeId &&
                Forwarder is { } forwarder && _clientAddressOf(result.LeaderId) is { } leaderAddress)
            {
                _ = ForwardAsync(forwarder, leaderAddress, connection, request, result.LeaderId, cancellationToken);
                return;
            }

            var response = new AppendResponse { RequestId = request.RequestId, Index = result.Index, Term = result.Term };
            Fill(response, result.Status, result.LeaderId);
            Reply(connection, MessageType.AppendResponse, response);
        }));
    }

    /// <summary>Followers forward appends to the leader; if that fails the client gets NOT_LEADER and redirects itself.</summary>
    private async Task ForwardAsync(LeaderForwarder forwarder, string leaderAddress, IFrameConnection connection, AppendRequest request, ulong leaderId, CancellationToken cancellationToken)
    {
        var response = await forwarder.ForwardAsync(leaderAddress, request, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            response = new AppendResponse { RequestId = request.RequestId };
            Fill(response, RequestStatus.NotLeader, leaderId);
        }

        Reply(connection, MessageType.AppendResponse, response);
    }

    /// <summary>A batch is appended as consecutive entries; item i carries sequence <c>sequence + i</c>, so the client advances its sequence by the item count.</summary>
    private void AppendBatch(IFrameConnection connection, AppendBatchRequest request, CancellationToken cancellationToken)
    {
        var count = request.Items.Count;
        if (count == 0)
        {
            Reply(connection, MessageType.AppendResponse, new AppendResponse { RequestId = request.RequestId, Status = ResponseStatus.InvalidArgument, Message = "empty batch" });
            return;
        }

        var commands = new byte[count][];
        try
        {
            for (var i = 0; i < count; i++)
            {
                var item = request.Items[i];
                commands[i] = AppendCommand.Encode(request.ClientId, request.Sequence + (ulong)i, item.Stream.Length == 0 ? null : item.Stream, item.Payload.Span, request.AcknowledgedBelow);
            }
        }
        catch (ArgumentException e)
        {
            Reply(connection, MessageType.AppendResponse, new AppendResponse { RequestId = request.RequestId, Status = ResponseStatus.InvalidArgument, Message = e.Message });
            return;
        }

        long bytes = 0;
        foreach (var c in commands)
        {
            bytes += c.Length;
        }

        if (!TryAdmit(bytes))
        {
            ReplyOverloaded(connection, request.RequestId);
            return;
        }

        var results = new AppendResult[count];
        var remaining = count;
        _loop.Post(node =>
        {
            for (var i = 0; i < count; i++)
            {
                var slot = i;
                node.Append(request.ClientId, request.Sequence + (ulong)i, commands[i], result =>
                {
                    results[slot] = result;
                    if (--remaining > 0)
                    {
                        return;
                    }

                    Release(bytes);

                    var response = new AppendResponse { RequestId = request.RequestId };
                    var failed = Array.FindIndex(results, r => r.Status != RequestStatus.Ok);
                    if (failed >= 0)
                    {
                        Fill(response, results[failed].Status, results[failed].LeaderId);
                    }
                    else
                    {
                        response.Status = ResponseStatus.Ok;
                        response.Index = results[^1].Index;
                        response.Term = results[^1].Term;
                        foreach (var r in results)
                        {
                            response.Indexes.Add(r.Index);
                        }
                    }

                    Reply(connection, MessageType.AppendResponse, response);
                });
            }
        });
    }

    private bool TryAdmit(long bytes) => AdmissionLimit.TryAdmit(ref _admittedBytes, bytes, MaxAdmittedBytes);

    private void Release(long bytes) => Interlocked.Add(ref _admittedBytes, -bytes);

    private void ReplyOverloaded(IFrameConnection connection, ulong requestId)
    {
        _metrics.CountOverloaded();
        Reply(connection, MessageType.AppendResponse, new AppendResponse
        {
            RequestId = requestId,
            Status = ResponseStatus.Overloaded,
            Message = $"more than {MaxAdmittedBytes >> 20} MiB of appends are waiting on this agent; back off and retry",
        });
    }

    private void Fill(AppendResponse response, RequestStatus status, ulong leaderId)
    {
        response.Status = status switch
        {
            RequestStatus.Ok => ResponseStatus.Ok,
            RequestStatus.NotLeader => leaderId == 0 ? ResponseStatus.Unavailable : ResponseStatus.NotLeader,
            RequestStatus.Retry => ResponseStatus.Retry,
            RequestStatus.SessionExpired => ResponseStatus.SessionExpired,
            RequestStatus.Overloaded => ResponseStatus.Overloaded,
            RequestStatus.Timeout => ResponseStatus.Timeout,
            _ => ResponseStatus.InvalidArgument,
        };
        response.LeaderId = leaderId;
        if (leaderId != 0 && _clientAddressOf(leaderId) is { } address)
        {
            response.LeaderClientAddress = address;
        }
    }

    private async Task ReadAsync(IFrameConnection connection, ReadRequest request, CancellationToken cancellationToken)
    {
        var response = new ReadResponse { RequestId = request.RequestId };
        var point = await ReadPointAsync(request.Consistency, cancellationToken).ConfigureAwait(false);
        if (point.Status != RequestStatus.Ok)
        {
            FillReadFailure(response, point);
            Reply(connection, MessageType.ReadResponse, response);
            return;
        }

        // Served from the committed view, off the node loop: entries up to the read point are applied and immutable.
        var view = _loop.Committed;
        response.CommitIndex = point.Bound;
        response.FirstIndex = view.FirstIndex;
        response.LastIndex = view.AppliedIndex;
        var from = Math.Max(request.FromIndex, 1);
        if (from < view.FirstIndex)
        {
            response.Status = ResponseStatus.Compacted;
            response.Message = $"index {from} is compacted; the log starts at {view.FirstIndex}";
        }
        else if (from > point.Bound)
        {
            response.Status = ResponseStatus.NotFound;
            response.Message = $"index {from} is beyond the committed log (commit index {point.Bound})";
        }
        else
        {
            response.Status = ResponseStatus.Ok;
            var maxCount = (int)Math.Clamp(request.MaxCount == 0 ? 1000u : request.MaxCount, 1u, MaxReadEntries);
            var maxBytes = (long)Math.Min(request.MaxBytes == 0 ? 4UL << 20 : request.MaxBytes, MaxReadBytes);
            var entries = new List<CommittedEntry>();
            view.Read(from, maxCount, maxBytes, request.Stream.Length == 0 ? null : request.Stream, entries, upTo: point.Bound);
            AddEntries(response.Entries, entries);
        }

        Reply(connection, MessageType.ReadResponse, response);
    }

    private void FillReadFailure(ReadResponse response, ReadPoint point)
    {
        response.Status = point.Status switch
        {
            RequestStatus.NotLeader when point.Leader != 0 => ResponseStatus.NotLeader,
            RequestStatus.Retry => ResponseStatus.Retry,
            RequestStatus.Timeout => ResponseStatus.Timeout,
            _ => ResponseStatus.Unavailable,
        };
        response.Message = point.Status switch
        {
            RequestStatus.Retry => "the leader changed before it confirmed the read; retry",
            RequestStatus.Timeout => $"the read was not confirmed by a leader within {ReadPointTimeout.TotalSeconds:0} s",
            RequestStatus.NotLeader when point.Leader != 0 => "send the read to the leader",
            _ => "no leader is known (no quorum?)",
        };
        response.LeaderId = point.Leader;
        response.LeaderClientAddress = point.Leader != 0 ? _clientAddressOf(point.Leader) ?? string.Empty : string.Empty;
    }

    private static void AddEntries(Google.Protobuf.Collections.RepeatedField<Entry> into, List<CommittedEntry> entries)
    {
        foreach (var e in entries)
        {
            into.Add(new Entry { Index = e.Index, Term = e.Term, Stream = e.Stream ?? string.Empty, Payload = ByteString.CopyFrom(e.Data.Span) });
        }
    }

    /// <summary>Streams committed entries from the committed view; waits for the applied index to move (no polling).</summary>
    private async Task TailAsync(IFrameConnection connection, TailRequest request, CancellationToken cancellationToken)
    {
        var next = Math.Max(request.FromIndex, 1);
        var filter = request.Stream.Length == 0 ? null : request.Stream;
        var entries = new List<CommittedEntry>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                await _loop.WaitForAppliedAsync(next, cancellationToken).ConfigureAwait(false);
                var view = _loop.Committed;
                if (next < view.FirstIndex)
                {
                    await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Compacted, CommitIndex = view.AppliedIndex, Message = $"index {next} is compacted; the log starts at {view.FirstIndex}" }, cancellationToken).ConfigureAwait(false);
                    return;
                }

                entries.Clear();
                next = view.Read(next, 1000, 1 << 20, filter, entries);
                if (entries.Count > 0)
                {
                    var batch = new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Ok, CommitIndex = view.AppliedIndex };
                    AddEntries(batch.Entries, entries);
                    await connection.SendAsync(MessageType.TailEntries, batch, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>How long a linearizable read waits for its leader's confirmation before it is answered with a timeout.</summary>
    internal static readonly TimeSpan ReadPointTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// The index up to which a read may be served: the applied index (stale) or a ReadIndex confirmed by the leader
    /// (linearizable). Always ends with an answer: the node answers Retry when the term moves on, and a read not
    /// confirmed within <see cref="ReadPointTimeout"/> (its request lost on the way to the leader) ends as a
    /// <see cref="RequestStatus.Timeout"/>; one whose connection closed meanwhile as unavailable.
    /// </summary>
    private async Task<ReadPoint> ReadPointAsync(Protocol.Messages.ReadConsistency consistency, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<ReadPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (consistency == Protocol.Messages.ReadConsistency.Stale)
        {
            var view = _loop.Committed;
            return new ReadPoint(RequestStatus.Ok, view.AppliedIndex, 0);
        }

        _loop.Post(n => n.ReadBarrier(r => tcs.TrySetResult(new ReadPoint(r.Status, r.ReadIndex, r.LeaderId))));
        try
        {
            return await tcs.Task.WaitAsync(ReadPointTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new ReadPoint(RequestStatus.Timeout, 0, 0);
        }
        catch (OperationCanceledException)
        {
            return new ReadPoint(RequestStatus.NotLeader, 0, 0);
        }
    }

    /// <summary>Where a read may be served up to, or why it may not.</summary>
    private readonly record struct ReadPoint(RequestStatus Status, ulong Bound, ulong Leader);

    private async Task StatusAsync(IFrameConnection connection, StatusRequest request, CancellationToken cancellationToken)
    {
        var status = await _loop.InvokeAsync(_status).ConfigureAwait(false);
        Reply(connection, MessageType.StatusResponse, StatusMapper.ToProto(status, request.RequestId, _clientAddressOf, TransportMode));
    }

    private async Task MembersAsync(IFrameConnection connection, MembersRequest request, CancellationToken cancellationToken)
    {
        var status = await _loop.InvokeAsync(_status).ConfigureAwait(false);
        Reply(connection, MessageType.MembersResponse, StatusMapper.ToMembers(status, request.RequestId));
    }

    private async Task TransferAsync(IFrameConnection connection, TransferLeaderRequest request, CancellationToken cancellationToken)
    {
        var (started, leader) = await _loop.InvokeAsync(n => (n.TransferLeadership(request.TargetNodeId), n.Status.LeaderId)).ConfigureAwait(false);
        Reply(connection, MessageType.TransferLeaderResponse, new TransferLeaderResponse
        {
            RequestId = request.RequestId,
            Status = started ? ResponseStatus.Ok : leader == _nodeId ? ResponseStatus.InvalidArgument : ResponseStatus.NotLeader,
            LeaderId = leader,
            Message = started ? $"transferring leadership to {request.TargetNodeId}" : leader == _nodeId ? $"{request.TargetNodeId} is not a voter" : "send the request to the leader",
        });
    }

    /// <summary>Queues an answer without blocking or writing on the calling thread (often the node loop); a thread-pool writer sends it.</summary>
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
