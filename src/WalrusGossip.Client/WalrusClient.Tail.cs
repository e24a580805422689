using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Polly;
using Polly.CircuitBreaker;
using WalrusGossip.Client.Connections;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>Tailing: a live subscription to committed entries on a connection of its own, resumed after failures.</summary>
public sealed partial class WalrusClient
{
    /// <summary>
    /// Streams committed entries from <paramref name="fromIndex"/> on, in index order and without gaps or repeats, until
    /// the enumeration is cancelled or stopped. The subscription uses a connection of its own; when it fails the client
    /// reconnects (to any agent) and resumes after the last entry delivered.
    /// </summary>
    /// <param name="fromIndex">First index to deliver, from 1.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="WalrusCompactedException"><paramref name="fromIndex"/> precedes the retained log.</exception>
    /// <exception cref="WalrusUnavailableException">No agent could be reached for more than <see cref="WalrusClientOptions.MaxRetries"/> consecutive tries.</exception>
    /// <exception cref="ObjectDisposedException">The client was disposed; disposing it ends every tail.</exception>
    public IAsyncEnumerable<LogEntry> TailAsync(ulong fromIndex, CancellationToken cancellationToken = default) =>
        TailAsync(fromIndex, null, cancellationToken);

    /// <summary>Streams committed entries of one stream from <paramref name="fromIndex"/> on; see <see cref="TailAsync(ulong, CancellationToken)"/>.</summary>
    /// <param name="fromIndex">First index to deliver, from 1.</param>
    /// <param name="stream">Only entries of this stream; null for all.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The entries.</returns>
    /// <exception cref="WalrusCompactedException"><paramref name="fromIndex"/> precedes the retained log.</exception>
    /// <exception cref="WalrusUnavailableException">No agent could be reached for more than <see cref="WalrusClientOptions.MaxRetries"/> consecutive tries.</exception>
    public IAsyncEnumerable<LogEntry> TailAsync(ulong fromIndex, string? stream, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(fromIndex);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return TailCoreAsync(fromIndex, stream, bySequence: false, cancellationToken);
    }

    /// <summary>
    /// Streams the entries of one stream from stream sequence <paramref name="fromSequence"/> on, each with its
    /// <see cref="LogEntry.StreamSequence"/>, as they commit; the agent serves it through its stream index, so a tail of a
    /// small stream in a busy log costs only that stream's entries. Reconnects and resumes after the last sequence
    /// delivered, as <see cref="TailAsync(ulong, CancellationToken)"/> does.
    /// </summary>
    /// <param name="stream">Stream name (1-255 UTF-8 bytes).</param>
    /// <param name="fromSequence">First stream sequence to deliver, from 1.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The stream's entries in sequence order.</returns>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is empty.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="fromSequence"/> is 0.</exception>
    /// <exception cref="WalrusCompactedException">The sequence is no longer retained (retention compacted it).</exception>
    /// <exception cref="WalrusPermissionDeniedException">The caller lacks the tail permission on the stream.</exception>
    /// <exception cref="WalrusUnavailableException">No agent could be reached for more than <see cref="WalrusClientOptions.MaxRetries"/> consecutive tries.</exception>
    public IAsyncEnumerable<LogEntry> TailStreamAsync(string stream, ulong fromSequence = 1, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stream);
        ArgumentOutOfRangeException.ThrowIfZero(fromSequence);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return TailCoreAsync(fromSequence, stream, bySequence: true, cancellationToken);
    }

    private async IAsyncEnumerable<LogEntry> TailCoreAsync(ulong from, string? stream, bool bySequence, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var next = from;
        var failures = 0;
        while (true)
        {
            var endpoint = PickEndpoint();
            var channel = Channel.CreateBounded<TailEntries>(new BoundedChannelOptions(_options.TailBufferFrames)
            {
                SingleReader = true,
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
            var request = bySequence ? new TailRequest { FromSequence = next, Stream = stream } : new TailRequest { FromIndex = next, Stream = stream ?? string.Empty };
            var (connection, failure) = await StartTailAsync(endpoint, request, channel.Writer, cancellationToken).ConfigureAwait(false);
            if (connection is not null)
            {
                _tails[connection] = 0;
                try
                {
                    await using (connection.ConfigureAwait(false))
                    {
                        while (true)
                        {
                            var (frame, error) = await ReadTailFrameAsync(channel.Reader, endpoint.Key, cancellationToken).ConfigureAwait(false);
                            if (error is not null)
                            {
                                failure = error;
                                break;
                            }

                            failures = 0;
                            foreach (var entry in frame!.Entries)
                            {
                                var position = bySequence ? entry.StreamSequence : entry.Index;
                                if (position < next)
                                {
                                    continue;
                                }

                                next = position + 1;
                                yield return ProtoMapping.ToEntry(entry);
                            }
                        }
                    }
                }
                finally
                {
                    _tails.TryRemove(connection, out _);
                }
            }

            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            if (!failure!.IsTransient || ++failures > _options.MaxRetries)
            {
                throw failure;
            }

            await Task.Delay(TailBackoff(failures), cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<(EndpointConnection? Connection, WalrusException? Failure)> StartTailAsync(
        EndpointState endpoint, TailRequest request, ChannelWriter<TailEntries> sink, CancellationToken cancellationToken)
    {
        try
        {
            var connection = await endpoint.Breaker.ExecuteAsync(
                static async (e, token) => await e.OpenDedicatedAsync(token).ConfigureAwait(false), endpoint, cancellationToken).ConfigureAwait(false);
            try
            {
                await connection.StartTailAsync(request, sink, cancellationToken).ConfigureAwait(false);
                return (connection, null);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (BrokenCircuitException e)
        {
            AvoidEndpoint(endpoint.Key);
            return (null, new WalrusUnavailableException($"{endpoint.Key}: skipped after repeated connection failures (circuit open)", e));
        }
        catch (Exception e) when (EndpointState.IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            AvoidEndpoint(endpoint.Key);
            return (null, new WalrusUnavailableException($"tail from {endpoint.Key}: {e.Message}", e));
        }
    }

    /// <summary>The next OK frame, or the failure that ends this subscription (never throws except for cancellation).</summary>
    private static async ValueTask<(TailEntries? Frame, WalrusException? Failure)> ReadTailFrameAsync(
        ChannelReader<TailEntries> reader, string endpoint, CancellationToken cancellationToken)
    {
        TailEntries frame;
        try
        {
            frame = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            var cause = e is ChannelClosedException { InnerException: { } inner } ? inner : e;
            return (null, new WalrusUnavailableException($"tail from {endpoint}: {cause.Message}", cause));
        }

        if (frame.Status == ResponseStatus.Ok)
        {
            return (frame, null);
        }

        try
        {
            ProtoMapping.ThrowIfError(new ResponseInfo(frame.RequestId, frame.Status, 0, string.Empty, frame.Message), endpoint);
        }
        catch (WalrusException e)
        {
            return (null, e);
        }

        return (null, new WalrusUnavailableException($"tail from {endpoint} ended"));
    }

    private TimeSpan TailBackoff(int failures)
    {
        var exponential = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(failures - 1, 30));
        var capped = Math.Min(exponential, _options.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }
}
