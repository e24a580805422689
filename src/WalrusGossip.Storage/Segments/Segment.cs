using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Segments;

/// <summary>
/// One segment file in memory: its open file, and the byte offset and term of every record it holds
/// (dense arrays; about 16 bytes per record).
/// </summary>
internal sealed class Segment : IDisposable
{
    private long[] _offsets;
    private ulong[] _terms;

    public Segment(ulong firstIndex, string path, string indexPath, IDeviceFile file, int capacityHint)
    {
        FirstIndex = firstIndex;
        Path = path;
        IndexPath = indexPath;
        File = file;
        _offsets = new long[Math.Max(16, capacityHint)];
        _terms = new ulong[_offsets.Length];
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
            Array.Resize(ref _terms, Count * 2);
        }

        _offsets[Count] = offset;
        _terms[Count] = term;
        Count++;
    }

    public long OffsetOf(ulong index) => _offsets[checked((int)(index - FirstIndex))];

    public ulong TermOf(ulong index) => _terms[checked((int)(index - FirstIndex))];

    /// <summary>Byte length of the records [from, to] (inclusive).</summary>
    public long SpanBytes(ulong from, ulong to) => (to == LastIndex ? End : OffsetOf(to + 1)) - OffsetOf(from);

    /// <summary>Forgets records from <paramref name="index"/> on; the file is not touched.</summary>
    public void ForgetFrom(ulong index)
    {
        var keep = (int)(index - FirstIndex);
        End = keep < Count ? _offsets[keep] : End;
        Count = Math.Min(Count, keep);
    }

    /// <summary>Visits (index, offset) every <paramref name="intervalBytes"/> of data, for the sparse index.</summary>
    public List<(ulong Index, long Offset)> SparsePoints(int intervalBytes)
    {
        var points = new List<(ulong, long)>();
        var next = 0L;
        for (var i = 0; i < Count; i++)
        {
            if (_offsets[i] >= next)
            {
                points.Add((FirstIndex + (ulong)i, _offsets[i]));
                next = _offsets[i] + intervalBytes;
            }
        }

        return points;
    }

    public void Dispose() => File.Dispose();
}
