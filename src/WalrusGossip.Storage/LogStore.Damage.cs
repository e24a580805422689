using WalrusGossip.Storage.Segments;

namespace WalrusGossip.Storage;

/// <summary>
/// A run of indexes in one sealed segment that is unavailable: from the first record that failed verification to the
/// last one (a scrub scans on past each bad record to the next intact one; when no intact record follows, or the bad
/// one's header no longer leads anywhere, the run reaches the segment's last index). Intact records between two bad
/// ones belong to the run. One run per segment.
/// </summary>
/// <param name="FirstIndex">Index of the first record that failed verification.</param>
/// <param name="LastIndex">Index of the last bad record, at most the segment's last index (the next segment's first index - 1).</param>
/// <param name="Offset">Byte offset of the first bad record's header in <paramref name="SegmentPath"/>.</param>
/// <param name="SegmentPath">The segment file.</param>
/// <param name="Reason">Which check failed.</param>
/// <param name="SegmentLastIndex">The last index of the segment holding the range (dropping the log prefix through it removes the segment file).</param>
public sealed record DamagedRange(ulong FirstIndex, ulong LastIndex, long Offset, string SegmentPath, string Reason, ulong SegmentLastIndex)
{
    /// <summary>Number of indexes in the range.</summary>
    public ulong Count => LastIndex - FirstIndex + 1;
}

/// <summary>
/// Damaged records in sealed segments (protocol-aware recovery; Alagappan et al., "Protocol-Aware Recovery for
/// Consensus-Based Storage", FAST 2018). A record of a sealed segment that fails verification is not a reason to stop:
/// <see cref="Scrub"/> (every record of every sealed segment) or a read finds it, the range from it to the segment's end
/// is recorded in <see cref="DamagedRanges"/>, reads into it raise <see cref="DamagedEntryException"/>, and
/// <see cref="RepairDamaged"/> rewrites it from entries the caller obtained and verified elsewhere (Raft peers). The
/// expected term of every damaged index stays known from memory (<see cref="TermAt"/>: the term runs come from the
/// segment's index file or an earlier scan), and a repair is accepted only when every supplied entry holds it.
/// </summary>
public sealed partial class LogStore
{
    private readonly object _damageLock = new();
    private readonly List<DamagedRange> _damage = [];
    private long _damagedRangesFound;
    private long _entriesRepaired;

    /// <summary>The damaged ranges known now, in index order (empty when none).</summary>
    public IReadOnlyList<DamagedRange> DamagedRanges
    {
        get
        {
            lock (_damageLock)
            {
                return [.. _damage];
            }
        }
    }

    /// <summary>The lowest damaged index, or 0 when nothing is damaged.</summary>
    public ulong FirstDamagedIndex
    {
        get
        {
            lock (_damageLock)
            {
                return _damage.Count == 0 ? 0 : _damage[0].FirstIndex;
            }
        }
    }

    /// <summary>Damaged ranges found since open (by <see cref="Scrub"/> or reads).</summary>
    public long DamagedRangesFound => Interlocked.Read(ref _damagedRangesFound);

    /// <summary>Entries rewritten by <see cref="RepairDamaged"/> since open.</summary>
    public long EntriesRepaired => Interlocked.Read(ref _entriesRepaired);

    /// <summary>
    /// Verifies every record of every sealed segment not already known damaged (framing, index sequence, CRC-32C, and the
    /// term the store holds in memory for it) and records a <see cref="DamagedRange"/> for each segment with a bad record.
    /// Reads the whole retained log; call it off the node loop (for example through <see cref="StorageOptions.RunInBackground"/>).
    /// Holds the read lock one segment at a time, so appends and reads go on meanwhile.
    /// </summary>
    /// <returns>The ranges this call found (a subset of <see cref="DamagedRanges"/>).</returns>
    public IReadOnlyList<DamagedRange> Scrub()
    {
        var found = new List<DamagedRange>();
        List<Segment> candidates;
        _rw.EnterReadLock();
        try
        {
            ThrowIfDisposed();
            candidates = [.. _segments.Where(s => s.Sealed && s.Count > 0)];
        }
        finally
        {
            _rw.ExitReadLock();
        }

        foreach (var segment in candidates)
        {
            _rw.EnterReadLock();
            try
            {
                if (_disposed || !_segments.Contains(segment) || !segment.Sealed || DamageOf(segment) is not null)
                {
                    continue;
                }

                var bad = ScrubSegment(segment);
                if (bad is { } b && b.Last >= _firstIndex && MarkDamaged(segment, b.First, b.Last, b.Offset, b.Reason) is { } range) // below the first index: no longer part of the log
                {
                    found.Add(range);
                }
            }
            catch (IOException e)
            {
                LogScrubReadFailed(_logger, segment.Path, e.Message);
            }
            finally
            {
                _rw.ExitReadLock();
            }
        }

        return found;
    }

    /// <summary>
    /// Rewrites the damaged range <paramref name="range"/> from <paramref name="entries"/>, in place: the records from the
    /// first bad one to the segment's end are encoded again at the same offsets, fdatasynced, the segment re-scanned in
    /// full, and its index file rewritten (atomically). The segment's index file is left as it was until the rewrite has
    /// verified, so a crash part-way leaves either the old damage or the repaired records, and the next open (plus a
    /// scrub) finds whatever is still damaged. Records before the range are not touched.
    /// </summary>
    /// <param name="range">A range from <see cref="DamagedRanges"/>.</param>
    /// <param name="entries">Exactly the entries [<see cref="DamagedRange.FirstIndex"/>, <see cref="DamagedRange.LastIndex"/>] in order,
    /// each holding the term this store expects at its index (<see cref="TermAt"/>). By Raft's Log Matching property an entry
    /// with the same index and term as the lost one is the same entry.</param>
    /// <exception cref="ArgumentException">The entries do not cover the range exactly, or one holds another term than expected,
    /// or is larger than the store accepts; nothing is written.</exception>
    /// <exception cref="InvalidOperationException">The range is no longer damaged (repaired already, or its segment was
    /// truncated away).</exception>
    /// <exception cref="LogCorruptionException">The rewritten segment still does not verify; the range stays damaged.</exception>
    public void RepairDamaged(DamagedRange range, IReadOnlyList<LogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(range);
        ArgumentNullException.ThrowIfNull(entries);
        if ((ulong)entries.Count != range.Count)
        {
            throw new ArgumentException($"repair of {range.FirstIndex}..{range.LastIndex} needs {range.Count} entries, got {entries.Count}", nameof(entries));
        }

        WaitQuietly(Volatile.Read(ref _indexTask)); // the seal-time index write of this segment must not land after ours
        _rw.EnterWriteLock();
        try
        {
            ThrowIfDisposed();
            var position = _segments.FindIndex(s => s.Path == range.SegmentPath && s.Sealed);
            var segment = position < 0 ? null : _segments[position];
            if (segment is null || DamageOf(segment) != range)
            {
                throw new InvalidOperationException($"range {range.FirstIndex}..{range.LastIndex} of {range.SegmentPath} is not damaged now");
            }

            long total = 0;
            for (var i = 0; i < entries.Count; i++)
            {
                var e = entries[i];
                var index = range.FirstIndex + (ulong)i;
                if (e.Index != index)
                {
                    throw new ArgumentException($"repair entry {i} holds index {e.Index}, expected {index}", nameof(entries));
                }

                var expected = segment.TermOf(index);
                if (e.Term != expected)
                {
                    throw new ArgumentException($"repair entry {index} holds term {e.Term}, this store expects term {expected}", nameof(entries));
                }

                if (e.Payload.Length > _options.MaxEntryBytes)
                {
                    throw new ArgumentException($"repair entry {index} holds {e.Payload.Length} bytes, more than the maximum {_options.MaxEntryBytes}", nameof(entries));
                }

                total += RecordHeader.Size + e.Payload.Length;
            }

            var newEnd = range.Offset + total;
            if (newEnd > Math.Max(segment.File.Length, _options.MaxSegmentBytes))
            {
                throw new ArgumentException($"repair entries need {total} bytes from offset {range.Offset}, past the segment's size", nameof(entries));
            }

            var buffer = new byte[total];
            var at = 0;
            foreach (var e in entries)
            {
                at += RecordHeader.Encode(buffer.AsSpan(at), e.Index, e.Term, e.Type, e.Flags, e.Payload.Span);
            }

            segment.File.Write(range.Offset, buffer);
            if (range.LastIndex == segment.LastIndex && newEnd < segment.End)
            {
                segment.File.Write(newEnd, new byte[segment.End - newEnd]);
            }

            segment.File.Sync();

            var rebuilt = new Segment(segment.FirstIndex, segment.Path, segment.IndexPath, segment.File, segment.Count);
            var scan = SegmentScanner.Scan(segment.File, segment.FirstIndex, isLast: false, _options.MaxEntryBytes, continueAfterCorruption: false,
                (long offset, in RecordHeader header) => rebuilt.Add(offset, header.Term));
            if (scan.Corruptions.Count > 0 || rebuilt.Count != segment.Count)
            {
                var why = scan.Corruptions.Count > 0 ? scan.Corruptions[0].Reason : $"it holds {rebuilt.Count} records, expected {segment.Count}";
                throw new LogCorruptionException(segment.Path, range.Offset, range.FirstIndex, $"the repaired segment does not verify: {why}");
            }

            rebuilt.End = scan.DataEnd;
            rebuilt.Sealed = true;
            WriteSegmentIndex(rebuilt, rebuilt.DescribeSealed(_options.IndexIntervalBytes));
            rebuilt.Compact();
            _segments[position] = rebuilt; // same file handle: the old Segment object is dropped, not disposed
            lock (_damageLock)
            {
                _damage.Remove(range);
            }

            Interlocked.Add(ref _entriesRepaired, entries.Count);
            LogRepaired(_logger, segment.Path, range.FirstIndex, range.LastIndex);
        }
        finally
        {
            _rw.ExitWriteLock();
        }
    }

    /// <summary>
    /// The bad records of a sealed segment as one span: from the first record that fails (framing, index, CRC-32C, or a
    /// term other than the one held in memory) to the last one, found by scanning on past each bad record to the next
    /// intact one. Null when every record verifies. Under the read lock.
    /// </summary>
    private (ulong First, ulong Last, long Offset, string Reason)? ScrubSegment(Segment segment)
    {
        ulong first = ulong.MaxValue, last = 0;
        long firstOffset = 0;
        string? reason = null;
        var previous = segment.FirstIndex - 1;
        long previousEnd = 0;
        var scan = SegmentScanner.Scan(segment.File, segment.FirstIndex, isLast: false, _options.MaxEntryBytes, continueAfterCorruption: true,
            (long offset, in RecordHeader header) =>
            {
                var index = header.Index;
                if (index > previous + 1)
                {
                    // Reads walk the headers from an anchor: when a bad record's header no longer leads to the next
                    // record, every later record of the segment is unreachable, so the range runs to its end.
                    var leads = index == previous + 2 && HeaderLeadsTo(segment.File, previousEnd, previous + 1, offset);
                    Bad(previous + 1, leads ? index - 1 : segment.LastIndex, -1, null);
                }

                previousEnd = offset + header.RecordLength;

                if (index >= segment.FirstIndex && index <= segment.LastIndex && header.Term != segment.TermOf(index))
                {
                    Bad(index, index, offset, $"record holds term {header.Term}, expected {segment.TermOf(index)}");
                }

                previous = Math.Max(previous, index);
            });
        if (previous < segment.LastIndex)
        {
            Bad(previous + 1, segment.LastIndex, scan.Corruptions.Count == 0 ? scan.DataEnd : -1,
                scan.Corruptions.Count == 0 ? $"the segment ends at index {previous}, expected {segment.LastIndex}" : null);
        }

        if (scan.Corruptions.Count > 0 && scan.Corruptions[0].Index <= first)
        {
            first = Math.Min(first, scan.Corruptions[0].Index);
            firstOffset = scan.Corruptions[0].Offset;
            reason = scan.Corruptions[0].Reason;
            last = Math.Max(last, first);
        }

        return first == ulong.MaxValue ? null : (first, last, firstOffset, reason ?? "record failed verification");

        void Bad(ulong from, ulong to, long offset, string? why)
        {
            if (from < first)
            {
                first = from;
                firstOffset = offset;
                reason = why;
            }

            last = Math.Max(last, to);
        }
    }

    /// <summary>True when the (bad) record at <paramref name="offset"/> still has a header that holds <paramref name="index"/> and ends at <paramref name="next"/>.</summary>
    private static bool HeaderLeadsTo(IDeviceFile file, long offset, ulong index, long next)
    {
        Span<byte> head = stackalloc byte[RecordHeader.Size];
        if (file.Read(offset, head) < RecordHeader.Size || !RecordHeader.LooksValid(head))
        {
            return false;
        }

        var header = RecordHeader.Read(head);
        return header.Index == index && offset + header.RecordLength == next;
    }

    /// <summary>The damaged range of <paramref name="segment"/>, if any.</summary>
    private DamagedRange? DamageOf(Segment segment)
    {
        lock (_damageLock)
        {
            foreach (var d in _damage)
            {
                if (d.SegmentPath == segment.Path && d.FirstIndex >= segment.FirstIndex && d.FirstIndex <= segment.LastIndex)
                {
                    return d;
                }
            }

            return null;
        }
    }

    /// <summary>Records that <paramref name="segment"/> is unreadable from <paramref name="index"/>; returns the new range, or null when it was known (or lowered).</summary>
    private DamagedRange? MarkDamaged(Segment segment, ulong index, ulong lastIndex, long offset, string reason)
    {
        if (index < segment.FirstIndex || index > segment.LastIndex || offset < 0)
        {
            return null;
        }

        var range = new DamagedRange(index, Math.Min(Math.Max(lastIndex, index), segment.LastIndex), offset, segment.Path, reason, segment.LastIndex);
        lock (_damageLock)
        {
            var known = _damage.FindIndex(d => d.SegmentPath == segment.Path);
            if (known >= 0)
            {
                if (_damage[known].FirstIndex <= index)
                {
                    return null;
                }

                _damage.RemoveAt(known);
            }

            _damage.Add(range);
            _damage.Sort((a, b) => a.FirstIndex.CompareTo(b.FirstIndex));
        }

        Interlocked.Increment(ref _damagedRangesFound);
        LogDamageFound(_logger, segment.Path, range.FirstIndex, range.LastIndex, offset, reason);
        return range;
    }

    /// <summary>
    /// Forgets damage in segments no longer in the log (prefix or suffix truncation removed or reopened them) and damage
    /// wholly below <paramref name="firstIndex"/> (a prefix truncation inside the damaged segment: those records are no
    /// longer part of the log). Under the write lock.
    /// </summary>
    private void ForgetDamageOutside(ulong firstIndex = 0)
    {
        lock (_damageLock)
        {
            _damage.RemoveAll(d => d.LastIndex < firstIndex || !_segments.Any(s => s.Sealed && s.Path == d.SegmentPath && d.FirstIndex <= s.LastIndex));
        }
    }

    [LoggerMessage(EventId = 17, Level = LogLevel.Error, Message = "damaged records in {Path}: indexes {First}..{Last} are unavailable from offset {Offset} ({Reason}); they must be repaired from peers")]
    private static partial void LogDamageFound(ILogger logger, string path, ulong first, ulong last, long offset, string reason);

    [LoggerMessage(EventId = 18, Level = LogLevel.Warning, Message = "repaired indexes {First}..{Last} of {Path} from verified entries")]
    private static partial void LogRepaired(ILogger logger, string path, ulong first, ulong last);

    [LoggerMessage(EventId = 19, Level = LogLevel.Warning, Message = "scrub could not read {Path}: {Error}")]
    private static partial void LogScrubReadFailed(ILogger logger, string path, string error);
}
