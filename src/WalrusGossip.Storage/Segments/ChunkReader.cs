namespace WalrusGossip.Storage.Segments;

/// <summary>Sequential-friendly reads of a file through one reusable buffer (used by recovery scans).</summary>
internal sealed class ChunkReader
{
    private const int ChunkBytes = 4 * 1024 * 1024;
    private readonly IDeviceFile _file;
    private readonly long _length;
    private byte[] _buffer;
    private long _bufferStart;
    private int _bufferLength;

    public ChunkReader(IDeviceFile file, int maxRecordBytes)
    {
        _file = file;
        _length = file.Length;
        _buffer = new byte[Math.Max(ChunkBytes, maxRecordBytes * 2)];
    }

    public long Length => _length;

    /// <summary>Returns up to <paramref name="count"/> bytes at <paramref name="offset"/>; shorter only at end of file.</summary>
    public ReadOnlySpan<byte> Get(long offset, int count)
    {
        if (offset >= _bufferStart && offset + count <= _bufferStart + _bufferLength)
        {
            return _buffer.AsSpan((int)(offset - _bufferStart), count);
        }

        if (count > _buffer.Length)
        {
            _buffer = new byte[count];
        }

        _bufferStart = offset;
        var want = (int)Math.Min(_buffer.Length, Math.Max(0, _length - offset));
        _bufferLength = want == 0 ? 0 : _file.Read(offset, _buffer.AsSpan(0, want));
        return _buffer.AsSpan(0, Math.Min(count, _bufferLength));
    }

    /// <summary>Offset of the first non-zero byte at or after <paramref name="offset"/>, or -1 when the rest of the file is zero.</summary>
    public long FirstNonZero(long offset)
    {
        for (var at = offset; at < _length; at += ChunkBytes)
        {
            var span = Get(at, (int)Math.Min(ChunkBytes, _length - at));
            var i = span.IndexOfAnyExcept((byte)0);
            if (i >= 0)
            {
                return at + i;
            }
        }

        return -1;
    }

    /// <summary>Offset just past the last non-zero byte of the file, or <paramref name="floor"/> when everything from it is zero.</summary>
    public long EndOfNonZero(long floor)
    {
        var end = _length;
        while (end > floor)
        {
            var start = Math.Max(floor, end - ChunkBytes);
            var span = Get(start, (int)(end - start));
            var i = span.LastIndexOfAnyExcept((byte)0);
            if (i >= 0)
            {
                return start + i + 1;
            }

            end = start;
        }

        return floor;
    }
}
