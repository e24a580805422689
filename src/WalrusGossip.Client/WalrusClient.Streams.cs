using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>Streams (issue 19): reads by stream sequence, stream info and listings. Appends name their stream in <see cref="AppendAsync"/>.</summary>
public sealed partial class WalrusClient
{
    /// <summary>
    /// Reads entries of one stream from stream sequence <paramref name="fromSequence"/>, through the agent's stream
    /// index: the cost is that of the entries returned, however long the log and however many other streams it holds.
    /// </summary>
    /// <param name="stream">Stream name (1-255 UTF-8 bytes).</param>
    /// <param name="fromSequence">First stream sequence, from 1.</param>
    /// <param name="maxCount">Most entries; 0 for the agent's default (1,000; at most 10,000).</param>
    /// <param name="consistency">Linearizable (default) or stale.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The entries in sequence order, each with its <see cref="LogEntry.StreamSequence"/>; empty past the stream's last sequence.</returns>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fromSequence"/> is 0 or <paramref name="maxCount"/> negative.</exception>
    /// <exception cref="WalrusCompactedException">The sequence is no longer retained.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller lacks the read permission on the stream.</exception>
    /// <exception cref="WalrusException">Unavailable, timeout or overloaded after all retries.</exception>
    public async Task<IReadOnlyList<LogEntry>> ReadStreamAsync(string stream, ulong fromSequence, int maxCount = 0, Consistency consistency = Consistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        ArgumentOutOfRangeException.ThrowIfZero(fromSequence);
        ArgumentOutOfRangeException.ThrowIfNegative(maxCount);
        var request = new ReadRequest
        {
            Stream = stream,
            FromSequence = fromSequence,
            FromIndex = 1,
            MaxCount = (uint)maxCount,
            Consistency = consistency == Consistency.Stale ? ReadConsistency.Stale : ReadConsistency.Linearizable,
        };
        var (response, _) = await ExecuteAsync(MessageType.ReadRequest, request, cancellationToken).ConfigureAwait(false);
        var read = (ReadResponse)response;
        return [.. read.Entries.Select(ProtoMapping.ToEntry)];
    }

    /// <summary>What one stream holds: first and last sequence, retained entries and bytes, first and last log index.</summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="consistency">Linearizable (default) or stale.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The stream's info.</returns>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is empty.</exception>
    /// <exception cref="WalrusNotFoundException">The stream has never had an entry.</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller lacks the read permission on the stream.</exception>
    /// <exception cref="WalrusException">Unavailable, timeout or overloaded after all retries.</exception>
    public async Task<StreamInfo> GetStreamInfoAsync(string stream, Consistency consistency = Consistency.Linearizable, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        var streams = await StreamInfoAsync(stream, consistency, cancellationToken).ConfigureAwait(false);
        return streams.Count == 1 ? streams[0] : throw new WalrusNotFoundException($"stream '{stream}' has no entries");
    }

    /// <summary>Every stream the caller may read, by name.</summary>
    /// <param name="consistency">Linearizable (default) or stale.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The streams' info.</returns>
    /// <exception cref="WalrusException">Unavailable, timeout or overloaded after all retries.</exception>
    public Task<IReadOnlyList<StreamInfo>> ListStreamsAsync(Consistency consistency = Consistency.Linearizable, CancellationToken cancellationToken = default) =>
        StreamInfoAsync(string.Empty, consistency, cancellationToken);

    private async Task<IReadOnlyList<StreamInfo>> StreamInfoAsync(string stream, Consistency consistency, CancellationToken cancellationToken)
    {
        var request = new StreamInfoRequest { Stream = stream, Consistency = consistency == Consistency.Stale ? ReadConsistency.Stale : ReadConsistency.Linearizable };
        var (response, _) = await ExecuteAsync(MessageType.StreamInfoRequest, request, cancellationToken).ConfigureAwait(false);
        return [.. ((StreamInfoResponse)response).Streams.Select(s => new StreamInfo(s.Name, s.FirstSequence, s.LastSequence, s.Entries, s.Bytes, s.FirstIndex, s.LastIndex))];
    }
}
