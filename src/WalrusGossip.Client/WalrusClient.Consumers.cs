using System.Runtime.CompilerServices;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>
/// Durable consumers (issue 19): a named consumer on a stream keeps its acknowledged position in the replicated state,
/// so it survives agent restarts and leader changes. Several instances of one consumer share its entries (each is
/// handed to one of them); an entry not acknowledged within the ack timeout goes to whichever instance asks next.
/// Delivery is at least once: after a leader change, entries acknowledged but not yet replicated come again.
/// </summary>
public sealed partial class WalrusClient
{
    private readonly ulong _instanceId = (ulong)Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>This client's consumer instance id (acks must come from the instance entries were delivered to).</summary>
    public ulong ConsumerInstanceId => _instanceId;

    /// <summary>Creates a durable consumer (idempotent: an existing one keeps its position and takes the new ack timeout). Needs admin.</summary>
    /// <param name="stream">Its stream.</param>
    /// <param name="name">1 to 64 of [A-Za-z0-9-_.].</param>
    /// <param name="ackTimeout">Default 30 s; 100 ms to 1 day.</param>
    /// <param name="startSequence">First stream sequence to deliver (default 1: the stream's start).</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The consumer.</returns>
    /// <exception cref="WalrusInvalidArgumentException">A name or timeout out of range.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller is not an admin.</exception>
    public async Task<ConsumerInfo> CreateConsumerAsync(string stream, string name, TimeSpan? ackTimeout = null, ulong startSequence = 1, CancellationToken cancellationToken = default)
    {
        var request = new ConsumerRequest { Action = ConsumerAction.Create, Stream = stream, Name = name, AckTimeoutMs = (ulong)(ackTimeout ?? TimeSpan.Zero).TotalMilliseconds, StartSequence = startSequence };
        var consumers = await ConsumerCallAsync(request, cancellationToken).ConfigureAwait(false);
        return consumers.Count == 1 ? consumers[0] : throw new WalrusException($"the cluster answered the creation of '{name}' with {consumers.Count} consumers");
    }

    /// <summary>Deletes a consumer and its position. Needs admin.</summary>
    /// <param name="stream">Its stream.</param>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>A task that completes once the deletion is applied on the leader.</returns>
    public Task DeleteConsumerAsync(string stream, string name, CancellationToken cancellationToken = default) =>
        ConsumerCallAsync(new ConsumerRequest { Action = ConsumerAction.Delete, Stream = stream, Name = name }, cancellationToken);

    /// <summary>One consumer: its replicated ack floor and, from the leader, its pending entries and redeliveries.</summary>
    /// <param name="stream">Its stream.</param>
    /// <param name="name">Its name.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The consumer.</returns>
    /// <exception cref="WalrusNotFoundException">No such consumer.</exception>
    public async Task<ConsumerInfo> GetConsumerInfoAsync(string stream, string name, CancellationToken cancellationToken = default)
    {
        var consumers = await ConsumerCallAsync(new ConsumerRequest { Action = ConsumerAction.Info, Stream = stream, Name = name }, cancellationToken).ConfigureAwait(false);
        return consumers.Count == 1 ? consumers[0] : throw new WalrusNotFoundException($"no consumer '{name}' on stream '{stream}'");
    }

    /// <summary>The consumers (of one stream, or of every stream the caller may read).</summary>
    /// <param name="stream">A stream, or null for all.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The consumers by stream and name.</returns>
    public Task<IReadOnlyList<ConsumerInfo>> ListConsumersAsync(string? stream = null, CancellationToken cancellationToken = default) =>
        ConsumerCallAsync(new ConsumerRequest { Action = ConsumerAction.List, Stream = stream ?? string.Empty }, cancellationToken);

    /// <summary>
    /// Delivers the consumer's entries to this instance as they become due, until cancelled: long-polls the leader for
    /// up to <paramref name="batch"/> entries at a time (undelivered ones in sequence order, and ones whose ack timeout
    /// passed). Acknowledge with <see cref="AckAsync"/>; what is not acknowledged in time goes to another instance.
    /// </summary>
    /// <param name="stream">The consumer's stream.</param>
    /// <param name="consumer">The consumer.</param>
    /// <param name="batch">Most entries per fetch, 1 to 10,000.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The entries with their delivery counts.</returns>
    /// <exception cref="WalrusNotFoundException">No such consumer.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller lacks the read permission on the stream.</exception>
    public async IAsyncEnumerable<ConsumedEntry> ConsumeAsync(string stream, string consumer, int batch = 100, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        ArgumentException.ThrowIfNullOrEmpty(consumer);
        ArgumentOutOfRangeException.ThrowIfLessThan(batch, 1);
        while (!cancellationToken.IsCancellationRequested)
        {
            var request = new FetchRequest { Stream = stream, Consumer = consumer, Instance = _instanceId, MaxCount = (uint)Math.Min(batch, 10_000), MaxWaitMs = 1_000 };
            FetchResponse fetched;
            try
            {
                var (response, _) = await ExecuteAsync(MessageType.FetchRequest, request, cancellationToken).ConfigureAwait(false);
                fetched = (FetchResponse)response;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            for (var i = 0; i < fetched.Entries.Count; i++)
            {
                yield return new ConsumedEntry(ProtoMapping.ToEntry(fetched.Entries[i]), i < fetched.DeliveryCounts.Count ? (int)fetched.DeliveryCounts[i] : 1);
            }
        }
    }

    /// <summary>
    /// Acknowledges every entry of the consumer delivered to this instance at or below <paramref name="upToSequence"/>
    /// (cumulative). The leader moves the consumer's floor over contiguous acknowledged sequences and replicates it.
    /// </summary>
    /// <param name="stream">The consumer's stream.</param>
    /// <param name="consumer">The consumer.</param>
    /// <param name="upToSequence">Highest stream sequence processed.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The consumer's ack floor on the leader after the ack.</returns>
    /// <exception cref="WalrusNotFoundException">No such consumer.</exception>
    public async Task<ulong> AckAsync(string stream, string consumer, ulong upToSequence, CancellationToken cancellationToken = default)
    {
        var request = new AckRequest { Stream = stream, Consumer = consumer, Instance = _instanceId, UpToSequence = upToSequence };
        var (response, _) = await ExecuteAsync(MessageType.AckRequest, request, cancellationToken).ConfigureAwait(false);
        return ((AckResponse)response).AckFloor;
    }

    private async Task<IReadOnlyList<ConsumerInfo>> ConsumerCallAsync(ConsumerRequest request, CancellationToken cancellationToken)
    {
        var (response, _) = await ExecuteAsync(MessageType.ConsumerRequest, request, cancellationToken).ConfigureAwait(false);
        return [.. ((ConsumerResponse)response).Consumers.Select(c => new ConsumerInfo(c.Stream, c.Name, c.AckFloor, TimeSpan.FromMilliseconds(c.AckTimeoutMs), c.Pending, c.Redeliveries, c.LastSequence))];
    }
}
