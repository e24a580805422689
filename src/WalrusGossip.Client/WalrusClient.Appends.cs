using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>
/// Append coalescing. Appends join one queue; each free session lane takes what waits there (whole calls, up to
/// <see cref="WalrusClientOptions.MaxCoalescedAppends"/> entries and <see cref="MaxCoalescedBytes"/> payload bytes)
/// and sends it as one request. With a lane free, an append leaves at once, alone; under load, the appends that
/// arrive while every lane has a request in flight share the next request. No timer is involved, so coalescing
/// never adds latency: it only replaces waiting for a lane. The cluster still stores, deduplicates and answers each
/// entry on its own (each carries its own sequence number).
/// </summary>
public sealed partial class WalrusClient
{
    /// <summary>Payload bytes per coalesced request, beyond which further waiting appends go in the next one.</summary>
    private const int MaxCoalescedBytes = 1 << 20;

    private readonly Lock _appendGate = new();
    private readonly Queue<QueuedAppend> _waitingAppends = new();
    private readonly SessionLanes _lanes;
    private int _freeLanes;

    private void Enqueue(QueuedAppend append, CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            append.WatchCancellation(cancellationToken);
        }

        bool dispatch;
        lock (_appendGate)
        {
            _waitingAppends.Enqueue(append);
            dispatch = _freeLanes > 0;
            if (dispatch)
            {
                _freeLanes--;
            }
        }

        if (dispatch)
        {
            _ = RunLaneAsync();
        }
    }

    /// <summary>One lane's work: send what waits, as one request, until nothing waits; then the lane is free again.</summary>
    private async Task RunLaneAsync()
    {
        var lane = _lanes.Take();
        var batch = new List<QueuedAppend>();
        try
        {
            while (true)
            {
                batch.Clear();
                lock (_appendGate)
                {
                    TakeBatch(batch);
                    if (batch.Count == 0)
                    {
                        _freeLanes++;
                        return;
                    }
                }

                await SendBatchAsync(lane, batch).ConfigureAwait(false);
            }
        }
        finally
        {
            _lanes.Return(lane);
        }
    }

    /// <summary>Takes whole waiting calls up to the entry and byte limits (always at least one call). Caller holds the gate.</summary>
    private void TakeBatch(List<QueuedAppend> batch)
    {
        var entries = 0;
        long bytes = 0;
        while (_waitingAppends.TryPeek(out var next))
        {
            if (next.IsDone)
            {
                _waitingAppends.Dequeue(); // cancelled while waiting: never sent
                continue;
            }

            if (batch.Count > 0 && (entries + next.Count > _options.MaxCoalescedAppends || bytes + next.PayloadBytes > MaxCoalescedBytes))
            {
                break;
            }

            batch.Add(_waitingAppends.Dequeue());
            entries += next.Count;
            bytes += next.PayloadBytes;
        }
    }

    /// <summary>Sends the calls of <paramref name="batch"/> as one request on <paramref name="lane"/> and completes each with its results or the error.</summary>
    private async Task SendBatchAsync(SessionLanes.Lane lane, List<QueuedAppend> batch)
    {
        var total = 0;
        foreach (var append in batch)
        {
            total += append.Count;
        }

        var firstSequence = lane.Reserve(total);
        try
        {
            var results = await SendEntriesAsync(lane.ClientId, firstSequence, batch, total, firstSequence).ConfigureAwait(false);
            var offset = 0;
            foreach (var append in batch)
            {
                append.Complete(results.AsSpan(offset, append.Count));
                offset += append.Count;
            }
        }
        catch (WalrusInvalidArgumentException) when (batch.Count > 1)
        {
            // One call's entry was refused (too large, bad stream name). Send each call alone with the same sequence
            // numbers, so only the offending call fails; entries of the others that did commit are answered by the
            // cluster's session table with their original index rather than stored again.
            var sequence = firstSequence;
            foreach (var append in batch)
            {
                try
                {
                    append.Complete(await SendEntriesAsync(lane.ClientId, sequence, [append], append.Count, firstSequence).ConfigureAwait(false));
                }
#pragma warning disable CA1031 // every failure is handed to the caller that owns the append
                catch (Exception e)
#pragma warning restore CA1031
                {
                    append.Fail(e);
                }

                sequence += (ulong)append.Count;
            }
        }
#pragma warning disable CA1031 // every failure is handed to the callers that own the appends
        catch (Exception e)
#pragma warning restore CA1031
        {
            foreach (var append in batch)
            {
                append.Fail(e);
            }
        }
    }

    /// <summary>One request carrying every entry of <paramref name="calls"/>: a plain append for one entry, a batch otherwise.</summary>
    /// <remarks>
    /// A lane carries one request at a time, so when it sends <paramref name="firstSequence"/> every lower sequence
    /// has been answered or given up and will never be sent again: the request says so (acknowledged_below), and the
    /// cluster forgets those answers, which keeps its session table small (Raft dissertation §6.3).
    /// </remarks>
    private async Task<AppendResult[]> SendEntriesAsync(ulong clientId, ulong firstSequence, List<QueuedAppend> calls, int total, ulong acknowledgedBelow)
    {
        if (total == 1)
        {
            var (stream, payload) = calls[0].Entry(0);
            var request = new AppendRequest
            {
                ClientId = clientId,
                Sequence = firstSequence,
                Stream = stream ?? string.Empty,
                Payload = ProtoMapping.ToByteString(payload),
                AcknowledgedBelow = acknowledgedBelow,
            };
            var (response, _) = await ExecuteAsync(MessageType.AppendRequest, request, CancellationToken.None).ConfigureAwait(false);
            var single = (AppendResponse)response;
            return [new AppendResult(single.Index, single.Term, single.StreamSequence)];
        }

        var batch = new AppendBatchRequest { ClientId = clientId, Sequence = firstSequence, AcknowledgedBelow = acknowledgedBelow };
        var copies = new PayloadCopier(calls);
        foreach (var call in calls)
        {
            for (var i = 0; i < call.Count; i++)
            {
                var (stream, payload) = call.Entry(i);
                batch.Items.Add(new AppendItem { Stream = stream ?? string.Empty, Payload = copies.Copy(payload) });
            }
        }

        var (answer, endpoint) = await ExecuteAsync(MessageType.AppendBatchRequest, batch, CancellationToken.None).ConfigureAwait(false);
        var append = (AppendResponse)answer;
        var results = new AppendResult[total];
        if (append.Indexes.Count == total)
        {
            for (var i = 0; i < total; i++)
            {
                results[i] = new AppendResult(append.Indexes[i], append.Term, i < append.StreamSequences.Count ? append.StreamSequences[i] : 0);
            }
        }
        else if (append.Indexes.Count == 0 && append.Index != 0)
        {
            for (var i = 0; i < total; i++)
            {
                results[i] = new AppendResult(append.Index - (ulong)(total - 1) + (ulong)i, append.Term);
            }
        }
        else
        {
            throw new WalrusException($"{endpoint}: answered a batch of {total} with {append.Indexes.Count} indexes");
        }

        return results;
    }

    /// <summary>
    /// Copies the payloads of one batch request into shared arrays of up to <see cref="ChunkBytes"/> (below the large
    /// object heap threshold), one allocation for many small entries instead of one each; larger payloads get an array
    /// of their own. Each entry's <see cref="Google.Protobuf.ByteString"/> wraps its slice without a second copy: the
    /// arrays belong to the request and are never written again. The caller's memory is still copied (not wrapped):
    /// the API does not ask callers to leave it untouched, and a cancelled append's task completes while its request
    /// may still be retried, so wrapping it could send bytes changed after the call.
    /// </summary>
    private struct PayloadCopier
    {
        /// <summary>Size of the shared arrays; payloads above a quarter of it are copied alone.</summary>
        public const int ChunkBytes = 64 << 10;

        private long _smallBytesLeft;
        private byte[]? _chunk;
        private int _used;

        public PayloadCopier(List<QueuedAppend> calls)
        {
            foreach (var call in calls)
            {
                for (var i = 0; i < call.Count; i++)
                {
                    var length = call.Entry(i).Payload.Length;
                    if (length <= ChunkBytes / 4)
                    {
                        _smallBytesLeft += length;
                    }
                }
            }
        }

        public Google.Protobuf.ByteString Copy(ReadOnlyMemory<byte> payload)
        {
            if (payload.IsEmpty || payload.Length > ChunkBytes / 4)
            {
                return ProtoMapping.ToByteString(payload);
            }

            if (_chunk is null || _chunk.Length - _used < payload.Length)
            {
                _chunk = GC.AllocateUninitializedArray<byte>((int)Math.Min(ChunkBytes, _smallBytesLeft));
                _used = 0;
            }

            var slice = _chunk.AsMemory(_used, payload.Length);
            payload.Span.CopyTo(slice.Span);
            _used += payload.Length;
            _smallBytesLeft -= payload.Length;
            return Google.Protobuf.UnsafeByteOperations.UnsafeWrap(slice);
        }
    }

    /// <summary>One waiting <see cref="AppendAsync"/> or <see cref="AppendBatchAsync"/> call.</summary>
    private sealed class QueuedAppend
    {
        private readonly string? _stream;
        private readonly ReadOnlyMemory<byte> _payload;
        private readonly IReadOnlyList<(string? Stream, ReadOnlyMemory<byte> Payload)>? _entries;
        private readonly TaskCompletionSource<AppendResult>? _single;
        private readonly TaskCompletionSource<IReadOnlyList<AppendResult>>? _many;
        private CancellationTokenRegistration _cancellation;

        public QueuedAppend(string? stream, ReadOnlyMemory<byte> payload)
        {
            _stream = stream;
            _payload = payload;
            Count = 1;
            PayloadBytes = payload.Length;
            _single = new TaskCompletionSource<AppendResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public QueuedAppend(IReadOnlyList<(string? Stream, ReadOnlyMemory<byte> Payload)> entries)
        {
            _entries = entries;
            Count = entries.Count;
            foreach (var (_, payload) in entries)
            {
                PayloadBytes += payload.Length;
            }

            _many = new TaskCompletionSource<IReadOnlyList<AppendResult>>(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        public int Count { get; }

        public long PayloadBytes { get; }

        public Task<AppendResult> Single => _single!.Task;

        public Task<IReadOnlyList<AppendResult>> Many => _many!.Task;

        public bool IsDone => _single is not null ? _single.Task.IsCompleted : _many!.Task.IsCompleted;

        public (string? Stream, ReadOnlyMemory<byte> Payload) Entry(int i) => _entries is null ? (_stream, _payload) : _entries[i];

        public void WatchCancellation(CancellationToken cancellationToken) =>
            _cancellation = cancellationToken.Register(static state =>
            {
                var self = (QueuedAppend)state!;
                _ = self._single?.TrySetCanceled();
                _ = self._many?.TrySetCanceled();
            }, this);

        public void Complete(ReadOnlySpan<AppendResult> results)
        {
            _cancellation.Dispose();
            if (_single is not null)
            {
                _single.TrySetResult(results[0]);
            }
            else
            {
                _many!.TrySetResult(results.ToArray());
            }
        }

        public void Fail(Exception error)
        {
            _cancellation.Dispose();
            if (_single is not null)
            {
                _single.TrySetException(error);
            }
            else
            {
                _many!.TrySetException(error);
            }
        }
    }
}
