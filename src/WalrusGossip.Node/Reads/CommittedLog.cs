using WalrusGossip.Storage;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>
/// An immutable view of a node's committed, applied log as of one moment (<see cref="WalrusNode.Committed"/>): the
/// applied index, the first retained index and the duplicate copies to skip. Readers on any thread read entries up to
/// <see cref="AppliedIndex"/> through it without visiting the node loop: those entries are durable and never change
/// (Raft only truncates uncommitted suffixes). The node publishes a new view after each Ready that applied entries.
/// </summary>
public sealed class CommittedLog
{
    /// <summary>Largest index gap between two stream entries that <see cref="ReadStream"/> reads in one pass.</summary>
    private const ulong RunGap = 64;

    private readonly LogStore? _log;

    internal CommittedLog(LogStore? log, ulong appliedIndex, ulong firstIndex, DuplicateSet duplicates, StreamIndex? streams = null)
    {
        _log = log;
        Streams = streams ?? new StreamIndex();
        AppliedIndex = appliedIndex;
        FirstIndex = firstIndex;
        Duplicates = duplicates;
    }

    /// <summary>
    /// A view over a store and the state machine that applied it up to <see cref="LogStateMachine.AppliedIndex"/>, for
    /// tools and benchmarks that build a log without a node (a node publishes its own through <see cref="WalrusNode.Committed"/>).
    /// </summary>
    /// <param name="log">The store; entries up to the state machine's applied index must be in it.</param>
    /// <param name="stateMachine">The state machine that applied them.</param>
    /// <returns>The view.</returns>
    public static CommittedLog Over(LogStore log, LogStateMachine stateMachine)
    {
        ArgumentNullException.ThrowIfNull(log);
        ArgumentNullException.ThrowIfNull(stateMachine);
        return new CommittedLog(log, stateMachine.AppliedIndex, log.FirstIndex, stateMachine.Duplicates, stateMachine.Streams);
    }

    /// <summary>A view of nothing (before the node started).</summary>
    public static CommittedLog Empty { get; } = new(null, 0, 1, DuplicateSet.Empty);

    /// <summary>Highest applied index: entries up to it may be read.</summary>
    public ulong AppliedIndex { get; }

    /// <summary>First index still in the log; reads below it are compacted.</summary>
    public ulong FirstIndex { get; }

    /// <summary>Duplicate copies of retried appends that readers skip (Raft dissertation §6.3).</summary>
    public DuplicateSet Duplicates { get; }

    /// <summary>
    /// The node's per-stream index (shared, kept current by the node loop). Pass <see cref="AppliedIndex"/> as the bound
    /// of its lookups (as <see cref="ReadStream"/> and <see cref="StreamInfo"/> do) so the answer matches this view.
    /// </summary>
    public StreamIndex Streams { get; }

    /// <summary>What <paramref name="stream"/> holds as of <see cref="AppliedIndex"/>, or null when it never had an entry.</summary>
    /// <param name="stream">Stream name.</param>
    /// <returns>First and last sequence, entries, bytes, first and last log index.</returns>
    public StreamInfo? StreamInfo(string stream) => Streams.Info(stream, AppliedIndex);

    /// <summary>
    /// Reads entries of <paramref name="stream"/> from sequence <paramref name="fromSequence"/> through the stream index:
    /// O(entries returned), whatever the length of the log or the number of other streams' entries (issue 19). Stops
    /// after <paramref name="maxCount"/> entries, after <paramref name="maxBytes"/> application bytes (at least one entry
    /// is returned when one exists) or at <paramref name="upTo"/>.
    /// </summary>
    /// <param name="stream">Stream name.</param>
    /// <param name="fromSequence">First stream sequence wanted, at least 1.</param>
    /// <param name="maxCount">Most entries, at least 1.</param>
    /// <param name="maxBytes">Application-byte budget, at least 1.</param>
    /// <param name="into">Receives the entries in sequence order, each with its <see cref="CommittedEntry.StreamSequence"/>.</param>
    /// <param name="upTo">Last log index to serve (a linearizable read point); at most <see cref="AppliedIndex"/>.</param>
    /// <returns>The sequence after the last one returned: where the next read continues (<paramref name="fromSequence"/> when nothing was returned).</returns>
    /// <exception cref="ArgumentOutOfRangeException">A bound is below 1.</exception>
    /// <exception cref="StreamCompactedException">The sequences from <paramref name="fromSequence"/> are compacted; it carries the first retained sequence.</exception>
    /// <exception cref="LogCorruptionException">A stored record no longer verifies.</exception>
    public ulong ReadStream(string stream, ulong fromSequence, int maxCount, long maxBytes, List<CommittedEntry> into, ulong upTo = ulong.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        fromSequence = Math.Max(fromSequence, 1);
        if (_log is null)
        {
            return fromSequence;
        }

        var positions = new List<StreamPosition>(Math.Min(maxCount, 1024));
        var first = Streams.Locate(stream, fromSequence, maxCount, Math.Min(upTo, AppliedIndex), positions);
        if (first > fromSequence)
        {
            throw new StreamCompactedException(stream, fromSequence, first);
        }

        var next = fromSequence;
        long bytes = 0;
        var buffer = new List<LogEntry>();
        for (var start = 0; start < positions.Count;)
        {
            // One storage read per run of positions at most RunGap apart: a stream interleaved with others costs one
            // sequential pass over its range, a sparse one a read per entry (each single read costs a read chunk).
            var end = start;
            while (end + 1 < positions.Count && positions[end + 1].Index - positions[end].Index <= RunGap)
            {
                end++;
            }

            buffer.Clear();
            var runFirst = positions[start].Index;
            _log.ReadRange(runFirst, (int)(positions[end].Index - runFirst + 1), long.MaxValue, buffer);
            var b = 0;
            for (var p = start; p <= end; p++)
            {
                var (sequence, index) = positions[p];
                while (b < buffer.Count && buffer[b].Index < index)
                {
                    b++;
                }

                if (b == buffer.Count || !LogStateMachine.TryDecodeAppend(buffer[b].Payload, out var entryStream, out var data))
                {
                    return next;
                }

                into.Add(new CommittedEntry(index, buffer[b].Term, entryStream, data, sequence));
                next = sequence + 1;
                bytes += data.Length;
                if (bytes >= maxBytes)
                {
                    return next;
                }
            }

            start = end + 1;
        }

        return next;
    }

    /// <summary>
    /// Reads committed application entries from <paramref name="fromIndex"/> up to <see cref="AppliedIndex"/>, skipping
    /// internal entries (configuration changes, no-ops), duplicate copies and, with <paramref name="stream"/>, entries of
    /// other streams. Stops after <paramref name="maxCount"/> entries, or once <paramref name="maxBytes"/> of application
    /// bytes were returned (at least one entry is returned if one exists), or after scanning
    /// <paramref name="maxScanned"/> log entries.
    /// </summary>
    /// <param name="fromIndex">First index to look at; at least <see cref="FirstIndex"/>.</param>
    /// <param name="maxCount">Most entries to return, at least 1.</param>
    /// <param name="maxBytes">Application-byte budget, at least 1.</param>
    /// <param name="stream">Only this stream; null for every entry.</param>
    /// <param name="into">Receives the entries in index order.</param>
    /// <param name="maxScanned">Most log entries to examine (bounds the work of a filtered read of a long log).</param>
    /// <param name="upTo">Last index to examine (for example a linearizable read point); at most <see cref="AppliedIndex"/>. Default: <see cref="AppliedIndex"/>.</param>
    /// <returns>The index after the last one examined: where the next read continues.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A bound is below 1.</exception>
    /// <exception cref="LogIndexOutOfRangeException"><paramref name="fromIndex"/> is below <see cref="FirstIndex"/> (compacted meanwhile).</exception>
    /// <exception cref="LogCorruptionException">A stored record no longer verifies.</exception>
    public ulong Read(ulong fromIndex, int maxCount, long maxBytes, string? stream, List<CommittedEntry> into, int maxScanned = 100_000, ulong upTo = ulong.MaxValue)
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var next = Math.Max(fromIndex, 1);
        var last = Math.Min(upTo, AppliedIndex);
        if (_log is null || next > last)
        {
            return next;
        }

        var buffer = new List<LogEntry>();
        var returned = 0;
        long bytes = 0;
        var scanned = 0;
        while (next <= last && returned < maxCount && bytes < maxBytes && scanned < maxScanned)
        {
            buffer.Clear();
            var chunk = (int)Math.Min((ulong)Math.Min(maxCount - returned + 64, maxScanned - scanned), last - next + 1);
            _log.ReadRange(next, chunk, maxBytes - bytes + 1, buffer);
            if (buffer.Count == 0)
            {
                break;
            }

            foreach (var e in buffer)
            {
                next = e.Index + 1;
                scanned++;
                if (e.Type == EntryType.Normal && !Duplicates.Contains(e.Index) &&
                    LogStateMachine.TryDecodeAppend(e.Payload, out var entryStream, out var data) &&
                    (stream is null || entryStream == stream))
                {
                    into.Add(new CommittedEntry(e.Index, e.Term, entryStream, data, entryStream is null ? 0 : Streams.SequenceOf(entryStream, e.Index)));
                    returned++;
                    bytes += data.Length;
                }

                if (returned >= maxCount || bytes >= maxBytes || scanned >= maxScanned)
                {
                    break;
                }
            }
        }

        return next;
    }

    /// <summary>
    /// Reads raw committed entries (internal ones and duplicate copies included, payloads as stored) from
    /// <paramref name="fromIndex"/> up to <paramref name="upTo"/>: what a backup copies.
    /// </summary>
    /// <param name="fromIndex">First index; at least <see cref="FirstIndex"/>.</param>
    /// <param name="upTo">Last index wanted; clamped to <see cref="AppliedIndex"/>.</param>
    /// <param name="maxBytes">Payload byte budget, at least 1 (one entry is returned even if it alone exceeds it).</param>
    /// <param name="into">Receives the entries in index order.</param>
    /// <returns>The number of entries added (0 when <paramref name="fromIndex"/> is past the range).</returns>
    /// <exception cref="LogIndexOutOfRangeException"><paramref name="fromIndex"/> is below <see cref="FirstIndex"/> (compacted).</exception>
    /// <exception cref="LogCorruptionException">A stored record no longer verifies.</exception>
    public int ReadRaw(ulong fromIndex, ulong upTo, long maxBytes, List<LogEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        var last = Math.Min(upTo, AppliedIndex);
        if (_log is null || fromIndex > last)
        {
            return 0;
        }

        return _log.ReadRange(fromIndex, (int)Math.Min(last - fromIndex + 1, 65_536), maxBytes, into);
    }
}
