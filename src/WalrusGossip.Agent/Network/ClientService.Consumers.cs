using System.Diagnostics;
using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Durable consumers (issue 19): consumer requests, fetches (long-polled) and acks, all answered by the leader's node loop.</summary>
public sealed partial class ClientService
{
    private const int DefaultFetchCount = 100;
    private const int MaxFetchWaitMs = 30_000;

    private async Task ConsumerAsync(IFrameConnection connection, ConsumerRequest request, ClientPrincipal? principal)
    {
        var response = new ConsumerResponse { RequestId = request.RequestId };
        if (_currentLoop() is not { } loop)
        {
            (response.Status, response.Message) = (ResponseStatus.Unavailable, NodeDownMessage);
            Reply(connection, MessageType.ConsumerResponse, response);
            return;
        }

        try
        {
            switch (request.Action)
            {
                case ConsumerAction.Create or ConsumerAction.Delete:
                    var change = request.Action == ConsumerAction.Create
                        ? new ConsumerChange(ConsumerChangeKind.Create, request.Stream, request.Name, request.AckTimeoutMs == 0 ? (ulong)ConsumerChange.DefaultAckTimeout.TotalMilliseconds : request.AckTimeoutMs, request.StartSequence > 1 ? request.StartSequence - 1 : 0)
                        : new ConsumerChange(ConsumerChangeKind.Delete, request.Stream, request.Name);
                    var done = new TaskCompletionSource<ConsumerResult>(TaskCreationOptions.RunContinuationsAsynchronously);
                    loop.Post(n => n.ChangeConsumer(change, r => done.TrySetResult(r)), () => done.TrySetResult(new ConsumerResult(RequestStatus.NotLeader, 0, 0, NodeDownMessage)));
                    var result = await done.Task.WaitAsync(AuthChangeTimeout).ConfigureAwait(false);
                    (response.Status, response.Message, response.LeaderId, response.LeaderClientAddress) = ConsumerStatus(result.Status, result.LeaderId, result.Message);
                    if (result.Status == RequestStatus.Ok)
                    {
                        await AddConsumersAsync(loop, response, request.Stream, request.Name, principal).ConfigureAwait(false);
                    }

                    break;
                case ConsumerAction.Info:
                    response.Status = ResponseStatus.Ok;
                    await AddConsumersAsync(loop, response, request.Stream, request.Name, principal).ConfigureAwait(false);
                    if (response.Consumers.Count == 0)
                    {
                        (response.Status, response.Message) = (ResponseStatus.NotFound, $"no consumer '{request.Name}' on stream '{request.Stream}'");
                    }

                    break;
                default:
                    response.Status = ResponseStatus.Ok;
                    await AddConsumersAsync(loop, response, request.Stream, null, principal).ConfigureAwait(false);
                    break;
            }
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            (response.Status, response.Message) = (ResponseStatus.Timeout, "the consumer change was not applied in time; retry");
        }

        Reply(connection, MessageType.ConsumerResponse, response);
    }

    /// <summary>Adds the matching consumers (the caller may read) with the stream's last sequence and, on the leader, pending entries and redeliveries.</summary>
    private async Task AddConsumersAsync(NodeLoop loop, ConsumerResponse response, string stream, string? name, ClientPrincipal? principal)
    {
        var described = await loop.InvokeAsync(n => n.Consumers.All
            .Where(c => (stream.Length == 0 || c.Stream == stream) && (name is null || c.Name == name))
            .Select(c => (State: c, Progress: n.ConsumerPending(c.Stream, c.Name), Last: n.Committed.StreamInfo(c.Stream)?.LastSequence ?? 0))
            .ToList()).ConfigureAwait(false);
        foreach (var (state, progress, last) in described)
        {
            if (principal is not null && Authorizer is not null && !Authorizer.Allows(principal, Permission.Read, state.Stream))
            {
                continue;
            }

            response.Consumers.Add(new ConsumerDescription
            {
                Stream = state.Stream,
                Name = state.Name,
                AckFloor = state.AckFloor,
                AckTimeoutMs = (ulong)state.AckTimeout.TotalMilliseconds,
                Pending = (ulong)(progress?.Pending ?? 0),
                Redeliveries = (ulong)(progress?.Redeliveries ?? 0),
                LastSequence = last,
            });
        }
    }

    /// <summary>
    /// A fetch: the leader's due entries for the instance, read from the committed view; when none is due it waits for
    /// the applied index to move, up to <c>max_wait_ms</c>, and asks again.
    /// </summary>
    private async Task FetchAsync(IFrameConnection connection, FetchRequest request, CancellationToken cancellationToken)
    {
        var response = new FetchResponse { RequestId = request.RequestId };
        var maxCount = request.MaxCount == 0 ? DefaultFetchCount : (int)Math.Min(request.MaxCount, 10_000u);
        // Monotonic: a wall-clock step must neither cut a long poll short nor stretch it.
        var wait = TimeSpan.FromMilliseconds(Math.Min(request.MaxWaitMs, MaxFetchWaitMs));
        var started = Stopwatch.GetTimestamp();
        try
        {
            while (true)
            {
                if (_currentLoop() is not { } loop)
                {
                    (response.Status, response.Message) = (ResponseStatus.Unavailable, NodeDownMessage);
                    break;
                }

                var (result, applied) = await loop.InvokeAsync(n => (n.ConsumerFetch(request.Stream, request.Consumer, request.Instance, maxCount), n.AppliedIndex)).ConfigureAwait(false);
                if (result.Status != RequestStatus.Ok)
                {
                    (response.Status, response.Message, response.LeaderId, response.LeaderClientAddress) = ConsumerStatus(result.Status, result.LeaderId, result.Status == RequestStatus.NotFound ? $"no consumer '{request.Consumer}' on stream '{request.Stream}'" : "send the fetch to the leader");
                    break;
                }

                response.Term = result.Term;
                var remaining = wait - Stopwatch.GetElapsedTime(started);
                if (result.Deliveries.Count > 0 || remaining <= TimeSpan.Zero)
                {
                    response.Status = ResponseStatus.Ok;
                    ReadDeliveries(loop.Committed, result.Deliveries, response);
                    break;
                }

                try
                {
                    await loop.WaitForAppliedAsync(applied + 1, cancellationToken).WaitAsync(remaining, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // Nothing new: one more look (an ack timeout may have passed), then answer empty.
                }
            }
        }
        catch (Exception e) when (e is WalrusGossip.Storage.DamagedEntryException or WalrusGossip.Storage.LogCorruptionException)
        {
            response.Entries.Clear();
            response.DeliveryCounts.Clear();
            (response.Status, response.Message) = (ResponseStatus.Unavailable, DamagedMessage(e));
        }
        catch (OperationCanceledException)
        {
            return; // the connection closed
        }

        Reply(connection, MessageType.FetchResponse, response);
    }

    private static void ReadDeliveries(CommittedLog view, IReadOnlyList<ConsumerDelivery> deliveries, FetchResponse response)
    {
        var raw = new List<WalrusGossip.Raft.LogEntry>(1);
        foreach (var d in deliveries)
        {
            raw.Clear();
            view.ReadRaw(d.Index, d.Index, long.MaxValue, raw);
            if (raw.Count == 1 && LogStateMachine.TryDecodeAppend(raw[0].Payload, out var stream, out var data))
            {
                response.Entries.Add(new Entry { Index = d.Index, Term = raw[0].Term, Stream = stream ?? string.Empty, StreamSequence = d.Sequence, Payload = Google.Protobuf.ByteString.CopyFrom(data.Span) });
                response.DeliveryCounts.Add((uint)d.DeliveryCount);
            }
        }
    }

    private async Task AckAsync(IFrameConnection connection, AckRequest request)
    {
        var response = new AckResponse { RequestId = request.RequestId };
        if (_currentLoop() is not { } loop)
        {
            (response.Status, response.Message) = (ResponseStatus.Unavailable, NodeDownMessage);
        }
        else
        {
            try
            {
                var result = await loop.InvokeAsync(n => n.ConsumerAck(request.Stream, request.Consumer, request.Instance, request.UpToSequence)).ConfigureAwait(false);
                (response.Status, response.Message, response.LeaderId, response.LeaderClientAddress) = ConsumerStatus(result.Status, result.LeaderId, result.Message);
                response.AckFloor = result.AckFloor;
            }
            catch (OperationCanceledException)
            {
                (response.Status, response.Message) = (ResponseStatus.Unavailable, NodeDownMessage);
            }
        }

        Reply(connection, MessageType.AckResponse, response);
    }

    /// <summary>The wire status, message, leader id and leader client address for a consumer answer.</summary>
    private (ResponseStatus Status, string Message, ulong LeaderId, string LeaderAddress) ConsumerStatus(RequestStatus status, ulong leaderId, string message)
    {
        var wire = status switch
        {
            RequestStatus.Ok => ResponseStatus.Ok,
            RequestStatus.NotLeader => leaderId == 0 ? ResponseStatus.Unavailable : ResponseStatus.NotLeader,
            RequestStatus.NotFound => ResponseStatus.NotFound,
            RequestStatus.Retry => ResponseStatus.Retry,
            RequestStatus.Timeout => ResponseStatus.Timeout,
            _ => ResponseStatus.InvalidArgument,
        };
        return (wire, status == RequestStatus.NotLeader && leaderId == 0 ? "no leader is known (no quorum?)" : message, leaderId, leaderId != 0 ? _clientAddressOf(leaderId) ?? string.Empty : string.Empty);
    }
}
