namespace WalrusGossip.Agent.Network;

/// <summary>Reads: the read point (stale or linearizable), the answer from the committed view, and typed failures.</summary>
public sealed partial class ClientService
{
    /// <summary>Most entries in one read answer.</summary>
    private const int MaxReadEntries = 10_000;

    /// <summary>Largest read answer in payload bytes: well under the 16 MiB frame limit, with room for one more entry.</summary>
    private const ulong MaxReadBytes = 8UL << 20;

    /// <summary>How long a linearizable read waits for its leader's confirmation before it is answered with a timeout.</summary>
    internal static readonly TimeSpan ReadPointTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Answers a read: entries from <c>from_index</c> up to the read point, at most <c>max_count</c> entries (default
    /// 1000, at most <see cref="MaxReadEntries"/>) and about <c>max_bytes</c> payload bytes (default 4 MiB, at most
    /// <see cref="MaxReadBytes"/>); COMPACTED below the log's first index, NOT_FOUND beyond the read point, and a typed
    /// failure (see <see cref="FillReadFailure"/>) when no read point could be had.
    /// </summary>
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
        if (_currentLoop() is not { } loop)
        {
            FillReadFailure(response, new ReadPoint(RequestStatus.NotLeader, 0, 0));
            response.Message = NodeDownMessage;
            Reply(connection, MessageType.ReadResponse, response);
            return;
        }

        var view = loop.Committed;
        response.CommitIndex = point.Bound;
        response.FirstIndex = view.FirstIndex;
        response.LastIndex = view.AppliedIndex;
        if (request.Stream.Length > 0 && request.FromSequence > 0)
        {
            ReadStream(response, view, request, point.Bound);
            Reply(connection, MessageType.ReadResponse, response);
            return;
        }

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
            try
            {
                view.Read(from, maxCount, maxBytes, request.Stream.Length == 0 ? null : request.Stream, entries, upTo: point.Bound);
                AddEntries(response.Entries, entries);
            }
            catch (WalrusGossip.Storage.LogIndexOutOfRangeException e) when (e.IsCompacted)
            {
                // Retention deleted the range after this view was taken.
                response.Status = ResponseStatus.Compacted;
                response.FirstIndex = e.FirstIndex;
                response.Message = $"index {e.Index} is compacted; the log starts at {e.FirstIndex}";
            }
            catch (Exception e) when (e is WalrusGossip.Storage.DamagedEntryException or WalrusGossip.Storage.LogCorruptionException)
            {
                // A record failed verification after it was applied: this agent repairs it from its peers; another agent can serve it now.
                response.Entries.Clear();
                response.Status = ResponseStatus.Unavailable;
                response.Message = DamagedMessage(e);
            }
        }

        Reply(connection, MessageType.ReadResponse, response);
    }

    /// <summary>
    /// A read of one stream by sequence, through the stream index (O(entries returned)): COMPACTED below the stream's first
    /// retained sequence, OK with no entries past its last (a consumer polls from there), the usual failures otherwise.
    /// </summary>
    private static void ReadStream(ReadResponse response, CommittedLog view, ReadRequest request, ulong bound)
    {
        var maxCount = (int)Math.Clamp(request.MaxCount == 0 ? 1000u : request.MaxCount, 1u, MaxReadEntries);
        var maxBytes = (long)Math.Min(request.MaxBytes == 0 ? 4UL << 20 : request.MaxBytes, MaxReadBytes);
        var entries = new List<CommittedEntry>();
        try
        {
            view.ReadStream(request.Stream, request.FromSequence, maxCount, maxBytes, entries, upTo: bound);
            response.Status = ResponseStatus.Ok;
            AddEntries(response.Entries, entries);
        }
        catch (StreamCompactedException e)
        {
            response.Status = ResponseStatus.Compacted;
            response.Message = e.Message;
        }
        catch (WalrusGossip.Storage.LogIndexOutOfRangeException e) when (e.IsCompacted)
        {
            response.Status = ResponseStatus.Compacted;
            response.FirstIndex = e.FirstIndex;
            response.Message = $"index {e.Index} is compacted; the log starts at {e.FirstIndex}";
        }
        catch (Exception e) when (e is WalrusGossip.Storage.DamagedEntryException or WalrusGossip.Storage.LogCorruptionException)
        {
            response.Entries.Clear();
            response.Status = ResponseStatus.Unavailable;
            response.Message = DamagedMessage(e);
        }
    }

    /// <summary>The client-facing text for a read that reached a damaged record (the SDK then tries another agent).</summary>
    private static string DamagedMessage(Exception e) =>
        $"entry {(e as WalrusGossip.Storage.DamagedEntryException)?.Index ?? (e as WalrusGossip.Storage.LogCorruptionException)?.Index} is damaged on this agent and is being repaired from its peers; read it from another agent";

    /// <summary>
    /// Maps a read point that is not OK onto <paramref name="response"/>: RETRY (leader changed), TIMEOUT (not
    /// confirmed within <see cref="ReadPointTimeout"/>), NOT_LEADER with the leader's client address, else UNAVAILABLE.
    /// </summary>
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

    /// <summary>Copies committed entries into a read or tail answer (payloads are copied; the view's memory is not held).</summary>
    private static void AddEntries(Google.Protobuf.Collections.RepeatedField<Entry> into, List<CommittedEntry> entries)
    {
        foreach (var e in entries)
        {
            into.Add(new Entry { Index = e.Index, Term = e.Term, Stream = e.Stream ?? string.Empty, Payload = ByteString.CopyFrom(e.Data.Span), StreamSequence = e.StreamSequence });
        }
    }

    /// <summary>
    /// The index up to which a read may be served: the applied index (stale) or a ReadIndex confirmed by the leader
    /// (linearizable). Always ends with an answer: the node answers Retry when the term moves on, and a read not
    /// confirmed within <see cref="ReadPointTimeout"/> (its request lost on the way to the leader) ends as a
    /// <see cref="RequestStatus.Timeout"/>; one whose connection closed meanwhile as unavailable.
    /// </summary>
    private async Task<ReadPoint> ReadPointAsync(Protocol.Messages.ReadConsistency consistency, CancellationToken cancellationToken)
    {
        var tcs = new TaskCompletionSource<ReadPoint>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_currentLoop() is not { } loop)
        {
            return new ReadPoint(RequestStatus.NotLeader, 0, 0); // node down: answered UNAVAILABLE
        }

        if (consistency == Protocol.Messages.ReadConsistency.Stale)
        {
            var view = loop.Committed;
            return new ReadPoint(RequestStatus.Ok, view.AppliedIndex, 0);
        }

        loop.Post(n => n.ReadBarrier(r => tcs.TrySetResult(new ReadPoint(r.Status, r.ReadIndex, r.LeaderId))), () => tcs.TrySetResult(new ReadPoint(RequestStatus.NotLeader, 0, 0)));
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

    /// <summary>Where a read may be served up to (<paramref name="Bound"/>, a log index), or why it may not (<paramref name="Status"/>, with the known <paramref name="Leader"/> or 0).</summary>
    private readonly record struct ReadPoint(RequestStatus Status, ulong Bound, ulong Leader);
}
