using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace WalrusGossip.Agent.Network;

/// <summary>Appends: single and batch, the admission limit in front of the node loop, and forwarding to the leader.</summary>
public sealed partial class ClientService
{
    private long _admittedBytes;

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

    /// <summary>
    /// Proposes one append on the node loop and answers when it is applied, or at once with INVALID_ARGUMENT (it does
    /// not encode) or OVERLOADED (admission limit). On a follower that knows the leader's client address it is
    /// forwarded there (see <see cref="ForwardAsync"/>).
    /// </summary>
    private void Append(IFrameConnection connection, AppendRequest request, CancellationToken cancellationToken)
    {
        if (!TryEncode(connection, request.RequestId, request.ClientId, request.Sequence, request.Stream, request.Payload, request.AcknowledgedBelow, out var command))
        {
            return;
        }

        if (!TryAdmit(command.Length))
        {
            ReplyOverloaded(connection, request.RequestId);
            return;
        }

        if (_currentLoop() is not { } loop)
        {
            Release(command.Length);
            ReplyNodeDown(connection, request.RequestId);
            return;
        }

        var started = Stopwatch.GetTimestamp();
        loop.Post(node => node.Append(request.ClientId, request.Sequence, command, result =>
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

            var response = new AppendResponse { RequestId = request.RequestId, Index = result.Index, Term = result.Term, StreamSequence = result.StreamSequence };
            Fill(response, result.Status, result.LeaderId);
            Reply(connection, MessageType.AppendResponse, response);
        }), () =>
        {
            Release(command.Length);
            ReplyNodeDown(connection, request.RequestId);
        });
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
    /// <remarks>Answered once, when every item is applied: OK with every index, or the status of the first item that failed.</remarks>
    private void AppendBatch(IFrameConnection connection, AppendBatchRequest request, CancellationToken cancellationToken)
    {
        var count = request.Items.Count;
        if (count == 0)
        {
            ReplyInvalidArgument(connection, request.RequestId, "empty batch");
            return;
        }

        var commands = new byte[count][];
        long bytes = 0;
        for (var i = 0; i < count; i++)
        {
            var item = request.Items[i];
            if (!TryEncode(connection, request.RequestId, request.ClientId, request.Sequence + (ulong)i, item.Stream, item.Payload, request.AcknowledgedBelow, out var command))
            {
                return;
            }

            commands[i] = command;
            bytes += command.Length;
        }

        if (!TryAdmit(bytes))
        {
            ReplyOverloaded(connection, request.RequestId);
            return;
        }

        if (_currentLoop() is not { } loop)
        {
            Release(bytes);
            ReplyNodeDown(connection, request.RequestId);
            return;
        }

        var results = new AppendResult[count];
        var remaining = count;
        loop.Post(node =>
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
                        response.StreamSequence = results[^1].StreamSequence;
                        foreach (var r in results)
                        {
                            response.Indexes.Add(r.Index);
                            response.StreamSequences.Add(r.StreamSequence);
                        }
                    }

                    Reply(connection, MessageType.AppendResponse, response);
                });
            }
        });
    }

    /// <summary>
    /// Encodes one append as an <see cref="AppendCommand"/>; when it does not encode (stream name or payload too large),
    /// answers INVALID_ARGUMENT for the whole request and returns false. Serves single appends and every batch item.
    /// </summary>
    /// <param name="connection">Where the rejection is sent.</param>
    /// <param name="requestId">The request answered on rejection.</param>
    /// <param name="clientId">Session id (0: no deduplication).</param>
    /// <param name="sequence">The item's sequence number.</param>
    /// <param name="stream">Stream name; empty means none.</param>
    /// <param name="payload">The item's bytes.</param>
    /// <param name="acknowledgedBelow">The client's lowest unanswered sequence (session trimming).</param>
    /// <param name="command">The encoded command, or null when rejected.</param>
    /// <returns>True when encoded.</returns>
    private bool TryEncode(IFrameConnection connection, ulong requestId, ulong clientId, ulong sequence, string stream, ByteString payload, ulong acknowledgedBelow, [NotNullWhen(true)] out byte[]? command)
    {
        try
        {
            command = AppendCommand.Encode(clientId, sequence, stream.Length == 0 ? null : stream, payload.Span, acknowledgedBelow);
            return true;
        }
        catch (ArgumentException e)
        {
            ReplyInvalidArgument(connection, requestId, e.Message);
            command = null;
            return false;
        }
    }

    /// <summary>Answers an append request INVALID_ARGUMENT with <paramref name="message"/> as the reason.</summary>
    private void ReplyInvalidArgument(IFrameConnection connection, ulong requestId, string message) =>
        Reply(connection, MessageType.AppendResponse, new AppendResponse { RequestId = requestId, Status = ResponseStatus.InvalidArgument, Message = message });

    /// <summary>Admits <paramref name="bytes"/> of append payload under <see cref="MaxAdmittedBytes"/>; false when it would exceed it.</summary>
    private bool TryAdmit(long bytes) => AdmissionLimit.TryAdmit(ref _admittedBytes, bytes, MaxAdmittedBytes);

    /// <summary>Returns <paramref name="bytes"/> admitted by <see cref="TryAdmit"/> once their append is answered.</summary>
    private void Release(long bytes) => Interlocked.Add(ref _admittedBytes, -bytes);

    /// <summary>Answers an append OVERLOADED (admission limit reached) and counts it.</summary>
    /// <summary>Answers an append UNAVAILABLE because the node is down (reopening after a storage failure) or stopped before running it; nothing was proposed.</summary>
    private void ReplyNodeDown(IFrameConnection connection, ulong requestId) =>
        Reply(connection, MessageType.AppendResponse, new AppendResponse { RequestId = requestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });

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

    /// <summary>
    /// Maps a node answer onto <paramref name="response"/>: NOT_LEADER with no known leader becomes UNAVAILABLE, and a
    /// known leader's client address is attached so the SDK can redirect.
    /// </summary>
    private void Fill(AppendResponse response, RequestStatus status, ulong leaderId)
    {
        if (status == RequestStatus.NoSpace)
        {
            response.Message = "the leader's data directory is below its free-space reserve (Storage:ReserveBytes); appends resume when space is freed";
        }

        response.Status = status switch
        {
            RequestStatus.Ok => ResponseStatus.Ok,
            RequestStatus.NotLeader => leaderId == 0 ? ResponseStatus.Unavailable : ResponseStatus.NotLeader,
            RequestStatus.Retry => ResponseStatus.Retry,
            RequestStatus.SessionExpired => ResponseStatus.SessionExpired,
            RequestStatus.Overloaded or RequestStatus.NoSpace => ResponseStatus.Overloaded,
            RequestStatus.Timeout => ResponseStatus.Timeout,
            _ => ResponseStatus.InvalidArgument,
        };
        response.LeaderId = leaderId;
        if (leaderId != 0 && _clientAddressOf(leaderId) is { } address)
        {
            response.LeaderClientAddress = address;
        }
    }
}
