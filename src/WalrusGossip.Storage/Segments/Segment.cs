using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Segments;

/// <summary>
/// One segment file in memory: its open file, the byte offset of every record (4 bytes each; segments are at most
/// 1 GiB) and the terms as runs (one entry per term change), so the in-memory index costs about 4 bytes per record.
/// </summary>
internal sealed class Segment : IDisposable
{
    private int[] _offsets;
    private readonly List<(int FirstSlot, ulong Term)> _termRuns = [];

    public Segment(ulong firstIndex, string path, string indexPath, IDeviceFile file, int capacityHint)
    {
        FirstIndex = firstIndex;
        Path = path;
        IndexPath = indexPath;
        File = file;
        _offsets = new int[Math.Max(16, capacityHint)];
    }

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

    public void Add(long offset, ulong term)
    {
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

    public long OffsetOf(ulong index) => _offsets[checked((int)(index - FirstIndex))];

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

    /// <summary>Byte length of the records [from, to] (inclusive).</summary>
    public long SpanBytes(ulong from, ulong to) => (to == LastIndex ? End : OffsetOf(to + 1)) - OffsetOf(from);

    /// <summary>Forgets records from <paramref name="index"/> on; the file is not touched.</summary>
    public void ForgetFrom(ulong index)
    {
        var keep = (int)(index - FirstIndex);
        End = keep < Count ? _offsets[keep] : End;
        Count = Math.Min(Count, keep);
        while (_termRuns.Count > 0 && _termRuns[^1].FirstSlot >= Count)
        {
            _termRuns.RemoveAt(_termRuns.Count - 1);
        }
    }

    /// <summary>(index, offset) every <paramref name="intervalBytes"/> of data, for the sparse index.</summary>
    public List<(ulong Index, long Offset)> SparsePoints(int intervalBytes)
    {
        var points = new List<(ulong, long)>();
        var next = 0L;
        for (var i = 0; i < Count; i++)
        {
            if (_offsets[i] >= next)
            {
                points.Add((FirstIndex + (ulong)i, _offsets[i]));
                next = _offsets[i] + (long)intervalBytes;
            }
        }

        return points;
    }

    public void Dispose() => File.Dispose();
}
