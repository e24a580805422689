using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Storage;

/// <summary>
/// The segmented, CRC-checked, crash-recovering local log (the <c>log/</c> directory of a data directory).
/// </summary>
/// <remarks>
/// <para>
/// Records are appended to the open segment by one writer thread; concurrent appends are grouped into one
/// write and, under <see cref="DurabilityMode.Always"/>, one fdatasync (group commit). An append's task completes
/// only after its batch meets the durability policy. Reads and appends may run concurrently from any thread;
/// truncations wait for in-flight appends to finish.
/// </para>
/// <para>
/// Recovery on open (see docs/architecture.md): the open (last) segment is scanned and every record's CRC-32C
/// verified. A sealed segment is loaded from its index file (<see cref="SegmentIndexFile"/>) when the index is
/// consistent with the file (its first and last record are read and verified); otherwise it is scanned and the index
/// rewritten. So open time grows with the open segment and the number of segments, not with the records retained;
/// <see cref="RecoveredRecordsScanned"/> and <see cref="RecoveredRecordsTrusted"/> say which was done. A record of a
/// trusted segment is verified when it is read, and <see cref="StoreVerifier"/> scans everything. An incomplete tail of
/// the open segment is a torn write and is truncated (logged with its size); any other bad record a scan finds raises
/// <see cref="LogCorruptionException"/> naming file, offset and index, and nothing is modified.
/// </para>
/// </remarks>
public sealed partial class LogStore : IDisposable
{
    private readonly IStorageDevice _device;
    private readonly StorageOptions _options;
    private readonly ILogger _logger;
    private readonly string _directory;
    private const int ReadChunkBytes = 64 * 1024; // below the large-object heap threshold
    private readonly List<Segment> _segments = [];
    private readonly ReaderWriterLockSlim _rw = new(LockRecursionPolicy.NoRecursion);
    private ulong _firstIndex;
    private ulong _lastIndex;   // last index written to its segment (and durable under always)
    private ulong _ackedLast;   // last index whose append completed (under none and interval: queued)
    private bool _disposed;

    private LogStore(IStorageDevice device, string directory, StorageOptions options, ILogger logger)
    {
        _device = device;
        _directory = directory;
        _options = options;
        _logger = logger;
        _filling = new WriteBatch(options.MaxBatchBytes);
        _spare = new WriteBatch(options.MaxBatchBytes);
    }

    /// <summary>First retained index; entries below it were removed by <see cref="TruncatePrefix"/>. 1 for a new log.</summary>
    public ulong FirstIndex => Volatile.Read(ref _firstIndex);

    /// <summary>
    /// Last index whose append has completed; <see cref="FirstIndex"/> - 1 when the log is empty. Under
    /// <c>none</c> and <c>interval</c> an append completes once queued, so this can run ahead of what is written;
    /// reads of such entries wait for the writer.
    /// </summary>
    public ulong LastIndex => Volatile.Read(ref _ackedLast);

    /// <summary>Number of segment files.</summary>
    public int SegmentCount
    {
        get
        {
            _rw.EnterReadLock();
            try
            {
                return _segments.Count;
            }
            finally
            {
                _rw.ExitReadLock();
            }
        }
    }

    /// <summary>Bytes of record data held (excluding preallocated space).</summary>
    public long DataBytes
    {
        get
        {
            _rw.EnterReadLock();
            try
            {
                long total = 0;
                foreach (var s in _segments)
                {
                    total += s.End;
                }

                return total;
            }
            finally
            {
                _rw.ExitReadLock();
            }
        }
    }

    /// <summary>Bytes of torn tail dropped by recovery when this store was opened (0 after a clean shutdown).</summary>
    public long RecoveredTornBytes { get; private set; }

    /// <summary>The options in force.</summary>
    public StorageOptions Options => _options;

    /// <summary>Opens (or creates) the log in <paramref name="directory"/> and recovers it.</summary>
    /// <param name="device">Device holding the files.</param>
    /// <param name="directory">The <c>log/</c> directory; created if missing.</param>
    /// <param name="options">Validated options.</param>
    /// <param name="logger">Receives recovery notes (torn bytes dropped, index files rebuilt).</param>
    /// <returns>The open store; dispose it to flush and close.</returns>
    /// <exception cref="DataDirectoryException">The directory cannot be created or holds files the store does not recognise.</exception>
    /// <exception cref="LogCorruptionException">A complete record of a scanned segment failed verification (for a trusted sealed segment: its first or last record), or indexes are missing between segments.</exception>
    /// <exception cref="StorageConfigurationException">An option is out of range.</exception>
    public static LogStore Open(IStorageDevice device, string directory, StorageOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var store = new LogStore(device, directory, options, logger ?? NullLogger.Instance);
        try
        {
            store.Recover();
        }
        catch
        {
            store.CloseFiles();
            throw;
        }

        store.StartWriter();
        return store;
    }

    /// <summary>Reads the entry at <paramref name="index"/>, verifying its CRC.</summary>
    /// <param name="index">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</param>
    /// <returns>The entry; its payload is a slice of a new array (read in chunks of up to 64 KiB, shared with neighbouring records).</returns>
    /// <exception cref="LogIndexOutOfRangeException">The index is compacted or beyond the end.</exception>
    /// <exception cref="LogCorruptionException">The stored record no longer verifies (see <see cref="ReadRange"/>).</exception>
    public LogEntry Read(ulong index)
    {
        var list = new List<LogEntry>(1);
        ReadRange(index, 1, long.MaxValue, list);
        return list[0];
    }

    /// <summary>
    /// Reads consecutive entries starting at <paramref name="fromIndex"/>, stopping after <paramref name="maxCount"/>
    /// entries, at the end of the log, or before the total payload would exceed <paramref name="maxBytes"/>
    /// (at least one entry is returned even if it alone exceeds it).
    /// </summary>
    /// <param name="fromIndex">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</param>
    /// <param name="maxCount">At least 1.</param>
    /// <param name="maxBytes">Payload byte budget, at least 1.</param>
    /// <param name="into">Receives the entries in index order.</param>
    /// <returns>The number of entries added.</returns>
    /// <exception cref="LogIndexOutOfRangeException"><paramref name="fromIndex"/> is compacted or beyond the end.</exception>
    /// <exception cref="LogCorruptionException">A stored record no longer verifies. When it lies in a sealed segment, that
    /// segment's index file is deleted first, so the next open scans the segment and stops with this exception there.</exception>
    public int ReadRange(ulong fromIndex, int maxCount, long maxBytes, List<LogEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxCount, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        EnsureWritten(fromIndex);
        _rw.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            var last = _lastIndex;
            if (fromIndex < _firstIndex || fromIndex > last)
            {
                throw new LogIndexOutOfRangeException(fromIndex, _firstIndex, last);
            }

            var added = 0;
            long payloadBytes = 0;
            var index = fromIndex;
            var budgetReached = false;
            while (!budgetReached && added < maxCount && index <= last)
            {
                var segment = FindSegment(index);
                var readLast = Math.Min(segment.LastIndex, last);
                if (segment.Sealed && DamageOf(segment) is { } damage && index <= damage.LastIndex)
                {
                    if (index >= damage.FirstIndex)
                    {
                        if (added > 0)
                        {
                            break; // what was read before the damage is returned; the next read reports it
                        }

                        throw new DamagedEntryException(index, damage);
                    }

                    readLast = Math.Min(readLast, damage.FirstIndex - 1);
                }

                int count;
                long bytes;
                bool full;
                try
                {
                    (count, bytes, full) = ReadSegment(segment, index, readLast, maxCount - added, maxBytes - payloadBytes, added, into);
                }
                catch (LogCorruptionException e) when (segment.Sealed)
                {
                    DistrustSegmentIndex(segment, e);
                    var span = ScrubSegment(segment);
                    MarkDamaged(segment, Math.Min(e.Index, span?.First ?? e.Index), Math.Max(e.Index, span?.Last ?? segment.LastIndex),
                        span is { } b && b.First < e.Index ? b.Offset : e.Offset, e.Reason);
                    throw;
                }

                added += count;
                payloadBytes += bytes;
                budgetReached = full;
                index += (ulong)count;
                if (count == 0)
                {
                    break;
                }
            }

            return added;
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>The term of the entry at <paramref name="index"/>, from memory (no I/O).</summary>
    /// <param name="index">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</param>
    /// <returns>The entry's term.</returns>
    /// <exception cref="LogIndexOutOfRangeException">The index is compacted or beyond the end.</exception>
    public ulong TermAt(ulong index)
    {
        EnsureWritten(index);
        _rw.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            if (index < _firstIndex || index > _lastIndex)
            {
                throw new LogIndexOutOfRangeException(index, _firstIndex, _lastIndex);
            }

            return FindSegment(index).TermOf(index);
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>Stops the writer after it drains pending appends, fdatasyncs the open segment and closes every file.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        StopWriter();
        _rw.EnterWriteLock();
        try
        {
            if (_failure is null && _segments.Count > 0)
            {
                _segments[^1].File.Sync();
            }

            CloseFiles();
            _disposed = true;
        }
        finally
        {
            _rw.ExitWriteLock();
        }
    }

    /// <summary>
    /// Reads records [<paramref name="from"/>, at most <paramref name="last"/>] of one segment: walks from the offset
    /// the segment knows at or before <paramref name="from"/> (the record itself in the open segment, an anchor in a
    /// compacted one), reading the file in chunks below the large-object threshold, verifying every record it returns,
    /// and stops at the count or payload budget (the first entry of a whole read is always taken).
    /// </summary>
    private static (int Count, long Bytes, bool BudgetReached) ReadSegment(
        Segment segment, ulong from, ulong last, int maxCount, long maxBytes, int alreadyAdded, List<LogEntry> into)
    {
        var (index, fileOffset) = segment.AnchorAtOrBefore(from);
        var buffer = Array.Empty<byte>();
        var length = 0;
        var position = 0;
        var count = 0;
        long bytes = 0;
        while (index <= last && count < maxCount)
        {
            if (!Ensure(RecordHeader.Size))
            {
                break;
            }

            var header = RecordHeader.Read(buffer.AsSpan(position));
            var recordLength = header.RecordLength;
            if (header.Index != index || recordLength > segment.End || !Ensure((int)recordLength))
            {
                throw new LogCorruptionException(segment.Path, fileOffset + position, index, "record failed verification on read");
            }

            if (index >= from)
            {
                if (alreadyAdded + count > 0 && bytes + header.PayloadLength > maxBytes)
                {
                    return (count, bytes, true);
                }

                if (!RecordHeader.Verify(buffer.AsSpan(position, (int)recordLength)))
                {
                    throw new LogCorruptionException(segment.Path, fileOffset + position, index, "record failed verification on read");
                }

                into.Add(new LogEntry(index, header.Term, (EntryType)header.Type, buffer.AsMemory(position + RecordHeader.Size, (int)header.PayloadLength), header.Flags));
                count++;
                bytes += header.PayloadLength;
            }

            position += (int)recordLength;
            index++;
        }

        if (index <= last && count < maxCount)
        {
            throw new LogCorruptionException(segment.Path, fileOffset + position, index, "segment is shorter than the records recorded for it");
        }

        return (count, bytes, false);

        // Makes buffer[position, position + need) hold file bytes; a fresh array each time, because returned entries
        // keep referencing the old one. False only when the segment's data ends first.
        bool Ensure(int need)
        {
            if (length - position >= need)
            {
                return true;
            }

            var start = fileOffset + position;
            var available = segment.End - start;
            if (available < need)
            {
                return false;
            }

            var size = (int)Math.Min(available, Math.Max(need, ReadChunkBytes));
            var next = GC.AllocateUninitializedArray<byte>(size); // filled by the copy and the read below
            buffer.AsSpan(position, length - position).CopyTo(next);
            var kept = length - position;
            var read = segment.File.Read(start + kept, next.AsSpan(kept));
            buffer = next;
            fileOffset = start;
            position = 0;
            length = kept + read;
            return length >= need;
        }
    }

    /// <summary>Sealed segments whose offsets are compacted to anchors (for tests).</summary>
    internal int CompactSegmentCount
    {
        get
        {
            _rw.EnterReadLock();
            try
            {
                return _segments.Count(s => s.IsCompact);
            }
            finally
            {
                _rw.ExitReadLock();
            }
        }
    }

    private Segment FindSegment(ulong index)
    {
        int lo = 0, hi = _segments.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_segments[mid].FirstIndex <= index)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _segments[lo];
    }

    private void CloseFiles()
    {
        foreach (var segment in _segments)
        {
            segment.Dispose();
        }

        _segments.Clear();
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private string PathOf(string name) => Path.Combine(_directory, name);
}
