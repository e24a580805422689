namespace WalrusGossip.Agent.Network;

/// <summary>Tails: a stream of committed entries pushed to the client as the applied index moves.</summary>
public sealed partial class ClientService
{
    /// <summary>
    /// Streams committed entries from the committed view; waits for the applied index to move (no polling). Sends batches
    /// of at most 1000 entries and about 1 MiB; ends with one COMPACTED message when the next index has been compacted
    /// away, and quietly when the connection closes or the service stops.
    /// </summary>
    private async Task TailAsync(IFrameConnection connection, TailRequest request, CancellationToken cancellationToken)
    {
        var next = Math.Max(request.FromIndex, 1);
        var filter = request.Stream.Length == 0 ? null : request.Stream;
        var entries = new List<CommittedEntry>();
        try
        {
            if (filter is not null)
            {
                await TailStreamAsync(connection, request, filter, entries, cancellationToken).ConfigureAwait(false);
                return;
            }

            while (!cancellationToken.IsCancellationRequested)
            {
                if (_currentLoop() is not { } loop)
                {
                    await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage }, cancellationToken).ConfigureAwait(false);
                    return;
                }

                try
                {
                    // Bounded, so a tail whose node stopped under it (storage failure) notices and ends instead of waiting forever.
                    await loop.WaitForAppliedAsync(next, cancellationToken).WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    continue;
                }

                var view = loop.Committed;
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
        catch (StreamCompactedException e)
        {
            await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Compacted, CommitIndex = _currentLoop()?.Committed.AppliedIndex ?? 0, Message = e.Message }, cancellationToken).ConfigureAwait(false);
        }
        catch (WalrusGossip.Storage.LogIndexOutOfRangeException e) when (e.IsCompacted)
        {
            // Retention deleted what the tail had not sent yet (a reader slower than retention): say so, typed.
            await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Compacted, CommitIndex = _currentLoop()?.Committed.AppliedIndex ?? 0, Message = $"index {e.Index} is compacted; the log starts at {e.FirstIndex}" }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is WalrusGossip.Storage.DamagedEntryException or WalrusGossip.Storage.LogCorruptionException)
        {
            await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, CommitIndex = _currentLoop()?.Committed.AppliedIndex ?? 0, Message = DamagedMessage(e) }, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>
    /// A tail of one stream, through the stream index: from <c>from_sequence</c> (or the first entry of the stream at or
    /// after <c>from_index</c>), each wake-up reads only that stream's new entries, whatever else the log holds.
    /// </summary>
    private async Task TailStreamAsync(IFrameConnection connection, TailRequest request, string stream, List<CommittedEntry> entries, CancellationToken cancellationToken)
    {
        var nextSequence = request.FromSequence;
        ulong seen = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            if (_currentLoop() is not { } loop)
            {
                await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage }, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (seen > 0)
            {
                try
                {
                    await loop.WaitForAppliedAsync(seen + 1, cancellationToken).WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    continue;
                }
            }

            var view = loop.Committed;
            seen = Math.Max(view.AppliedIndex, 1);
            if (nextSequence == 0)
            {
                nextSequence = view.Streams.SequenceAtOrAfter(stream, Math.Max(request.FromIndex, 1));
            }

            while (true)
            {
                entries.Clear();
                nextSequence = view.ReadStream(stream, nextSequence, 1000, 1 << 20, entries);
                if (entries.Count == 0)
                {
                    break;
                }

                var batch = new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Ok, CommitIndex = view.AppliedIndex };
                AddEntries(batch.Entries, entries);
                await connection.SendAsync(MessageType.TailEntries, batch, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
