namespace WalrusGossip.Storage.Segments;

/// <summary>
/// One segment file in memory: its open file, the byte offset of records and the terms as runs (one entry per term
/// change). The open segment keeps the offset of every record (4 bytes each; segments are at most 1 GiB); a sealed
/// segment is <see cref="Compact">compacted</see> to one offset per <see cref="AnchorStride"/> records, so a long log
/// costs memory in proportion to its segments, not its entries, and reads of sealed segments walk from an anchor.
/// </summary>
internal sealed class Segment : IDisposable
{
    /// <summary>Records per anchor in a compacted segment: a read walks past at most this many - 1 records.</summary>
    public const int AnchorStride = 64;

    private int[] _offsets;
    private int[]? _anchors;
    private readonly List<(int FirstSlot, ulong Term)> _termRuns;

    /// <summary>An empty open segment.</summary>
    /// <param name="firstIndex">Index of its first record.</param>
    /// <param name="path">The segment file.</param>
    /// <param name="indexPath">Its <c>.idx</c> file.</param>
    /// <param name="file">The open segment file; owned by the segment from now on.</param>
    /// <param name="capacityHint">Records to size the offset array for.</param>
    /// <param name="reusableOffsets">An offset array no segment uses any more (what <see cref="Compact"/> returned), taken instead of a new one when it holds <paramref name="capacityHint"/> entries; its old contents are ignored.</param>
    public Segment(ulong firstIndex, string path, string indexPath, IDeviceFile file, int capacityHint, int[]? reusableOffsets = null)
    {
        FirstIndex = firstIndex;
        Path = path;
        IndexPath = indexPath;
        File = file;
        _offsets = reusableOffsets is not null && reusableOffsets.Length >= Math.Max(16, capacityHint) ? reusableOffsets : new int[Math.Max(16, capacityHint)];
        _termRuns = [];
    }

    private Segment(string path, string indexPath, IDeviceFile file, SegmentIndex index)
    {
        FirstIndex = index.FirstIndex;
        Path = path;
        IndexPath = indexPath;
        File = file;
        Count = index.Count;
        End = index.DataEnd;
        Sealed = true;
        _offsets = [];
        _anchors = index.Anchors;
        _termRuns = [.. index.TermRuns];
    }

    /// <summary>
    /// A sealed, compacted segment built from its index file instead of a scan of its records. The caller has checked
    /// the index against the file (LogStore.SealedSegments.cs); every later read still verifies each record's CRC.
    /// </summary>
    /// <param name="path">The segment file.</param>
    /// <param name="indexPath">Its <c>.idx</c> file.</param>
    /// <param name="file">The open segment file; owned by the segment from now on.</param>
    /// <param name="index">The decoded index: count, data end, anchors and term runs are taken as they are.</param>
    /// <returns>A segment with <see cref="Sealed"/> and <see cref="IsCompact"/> true.</returns>
    public static Segment FromIndex(string path, string indexPath, IDeviceFile file, SegmentIndex index) =>
        new(path, indexPath, file, index);

    public ulong FirstIndex { get; }

    public string Path { get; }

    public string IndexPath { get; }

    public IDeviceFile File { get; }

    /// <summary>Number of records.</summary>
    public int Count { get; private set; }

    /// <summary>Offset just past the last record: where the next record goes.</summary>
    public long End { get; set; }

    /// <summary>True once a later segment exists; a sealed segment is never written again (until a suffix truncation reaches into it).</summary>
    public bool Sealed { get; set; }

    /// <summary>Last index held, or FirstIndex - 1 when empty.</summary>
    public ulong LastIndex => FirstIndex + (ulong)Count - 1;

    /// <summary>True when only every <see cref="AnchorStride"/>-th offset is in memory (a sealed segment).</summary>
    public bool IsCompact => _anchors is not null;

    public void Add(long offset, ulong term)
    {
        ThrowIfCompact();
        if (Count == _offsets.Length)
        {
            Array.Resize(ref _offsets, Count * 2);
        }

        if (_termRuns.Count == 0 || _termRuns[^1].Term != term)
        {
            _termRuns.Add((Count, term));
        }

        _offsets[Count] = checked((int)offset);
        Count++;
    }

    /// <summary>Exact offset of a record; only while the segment is not compact.</summary>
    public long OffsetOf(ulong index)
    {
        ThrowIfCompact();
        return _offsets[checked((int)(index - FirstIndex))];
    }

    /// <summary>Where a walk to <paramref name="index"/> starts: the record itself while every offset is known, else the last anchor at or before it.</summary>
    public (ulong Index, long Offset) AnchorAtOrBefore(ulong index)
    {
        var slot = checked((int)(index - FirstIndex));
        if (_anchors is null)
        {
            return (index, _offsets[slot]);
        }

        var k = slot / AnchorStride;
        return (FirstIndex + (ulong)(k * AnchorStride), _anchors[k]);
    }

    /// <summary>
    /// Keeps one offset per <see cref="AnchorStride"/> records and drops the rest (about 4 bytes per record freed).
    /// Called when the segment is sealed, under the store's write lock.
    /// </summary>
    /// <returns>The offset array given up, which this segment no longer reads (the next open segment may reuse it); null when already compact.</returns>
    public int[]? Compact()
    {
        if (_anchors is not null)
        {
            return null;
        }

        var anchors = new int[(Count + AnchorStride - 1) / AnchorStride];
        for (var k = 0; k < anchors.Length; k++)
        {
            anchors[k] = _offsets[k * AnchorStride];
        }

        var released = _offsets;
        _anchors = anchors;
        _offsets = [];
        return released;
    }

    /// <summary>
    /// Rebuilds the offset of every record of a compacted segment by walking the record headers in its file (before a
    /// suffix truncation cuts into it). Record CRCs are not checked here: the records verified when they were written
    /// or recovered, and every read verifies them again.
    /// </summary>
    /// <param name="maxRecordBytes">Largest record (header included) the store accepts.</param>
    /// <param name="cutIndex">When inside the segment, only the records before it are walked (a damaged record at or
    /// after the cut, which the truncation removes, is never read); the caller then calls <see cref="ForgetFrom"/> with it.</param>
    /// <exception cref="LogCorruptionException">The headers no longer chain to the anchors (the file changed under the store).</exception>
    public void Expand(int maxRecordBytes, ulong cutIndex = ulong.MaxValue)
    {
        if (_anchors is null)
        {
            return;
        }

        var offsets = new int[Math.Max(16, Count)];
        var reader = new ChunkReader(File, maxRecordBytes);
        long offset = 0;
        var walk = cutIndex <= FirstIndex ? 0 : (int)Math.Min((ulong)Count, cutIndex - FirstIndex);
        for (var slot = 0; slot < walk; slot++)
        {
            var index = FirstIndex + (ulong)slot;
            var bytes = reader.Get(offset, RecordHeader.Size);
            if (bytes.Length < RecordHeader.Size || (slot % AnchorStride == 0 && _anchors[slot / AnchorStride] != offset))
            {
                throw new LogCorruptionException(Path, offset, index, "record headers no longer match the in-memory index");
            }

            var header = RecordHeader.Read(bytes);
            if (header.Index != index || header.RecordLength > maxRecordBytes)
            {
                throw new LogCorruptionException(Path, offset, index, "record headers no longer match the in-memory index");
            }

            offsets[slot] = checked((int)offset);
            offset += header.RecordLength;
        }

        if (walk < Count)
        {
            offsets[walk] = checked((int)offset); // where the cut falls; the records after it are not walked (they may be damaged)
        }
        else if (offset != End)
        {
            throw new LogCorruptionException(Path, offset, LastIndex + 1, "record headers no longer match the in-memory index");
        }

        _offsets = offsets;
        _anchors = null;
    }

    public ulong TermOf(ulong index)
    {
        var slot = checked((int)(index - FirstIndex));
        int lo = 0, hi = _termRuns.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_termRuns[mid].FirstSlot <= slot)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _termRuns[lo].Term;
    }

    /// <summary>Forgets records from <paramref name="index"/> on; the file is not touched.</summary>
    public void ForgetFrom(ulong index)
    {
        ThrowIfCompact();
        var keep = (int)(index - FirstIndex);
        End = keep < Count ? _offsets[keep] : End;
        Count = Math.Min(Count, keep);
        while (_termRuns.Count > 0 && _termRuns[^1].FirstSlot >= Count)
        {
            _termRuns.RemoveAt(_termRuns.Count - 1);
        }
    }

    /// <summary>
    /// Describes this segment for its index file: count, data end, the anchors <see cref="Compact"/> keeps, term runs
    /// and sparse points. Only before compaction (the exact offsets are needed), when the segment is being sealed.
    /// </summary>
    /// <param name="intervalBytes">Spacing of the sparse points in bytes of data (<see cref="StorageOptions.IndexIntervalBytes"/>).</param>
    /// <returns>The description; its arrays are new and not shared with the segment.</returns>
    /// <exception cref="InvalidOperationException">The segment is already compacted or holds no record.</exception>
    public SegmentIndex DescribeSealed(int intervalBytes)
    {
        ThrowIfCompact();
        if (Count == 0)
        {
            throw new InvalidOperationException($"segment {Path} holds no record: nothing to seal");
        }

        var anchors = new int[(Count + AnchorStride - 1) / AnchorStride];
        for (var k = 0; k < anchors.Length; k++)
        {
            anchors[k] = _offsets[k * AnchorStride];
        }

        return new SegmentIndex(FirstIndex, Count, End, _offsets[Count - 1], anchors, [.. _termRuns], SparsePoints(intervalBytes));
    }

    /// <summary>(index, offset) every <paramref name="intervalBytes"/> of data, for the sparse points of the index file: counted first, then filled, so the array is allocated once at its final size.</summary>
    private (ulong Index, long Offset)[] SparsePoints(int intervalBytes)
    {
        var count = 0;
        var next = 0L;
        for (var i = 0; i < Count; i++)
        {
            if (_offsets[i] >= next)
            {
                count++;
                next = _offsets[i] + (long)intervalBytes;
            }
        }

        var points = new (ulong Index, long Offset)[count];
        count = 0;
        next = 0L;
        for (var i = 0; i < Count; i++)
        {
            if (_offsets[i] >= next)
            {
                points[count++] = (FirstIndex + (ulong)i, _offsets[i]);
                next = _offsets[i] + (long)intervalBytes;
            }
        }

        return points;
    }

    public void Dispose() => File.Dispose();

    private void ThrowIfCompact()
    {
        if (_anchors is not null)
        {
            throw new InvalidOperationException($"segment {Path} is compacted: exact offsets need Expand first");
        }
    }
}
