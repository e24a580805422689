namespace WalrusGossip.Transport;

/// <summary>
/// The receiving side of a connection's stream, read ahead through one buffer: the frame reader asks for a length
/// prefix, a type and a body (three reads per frame), and those are served from memory while the buffer holds them,
/// so a busy connection makes one read of the underlying stream (TLS record decryption, QUIC stream) per buffer
/// rather than three per frame. Reads only; writes go to the underlying stream directly, and one reader at a time.
/// </summary>
internal sealed class ReadAheadStream : Stream
{
    private readonly Stream _inner;
    private readonly byte[] _buffer;
    private int _start;
    private int _end;

    /// <param name="inner">The connection's stream; not owned (the connection disposes it).</param>
    /// <param name="bufferBytes">Read-ahead size; reads at least this large bypass the buffer.</param>
    public ReadAheadStream(Stream inner, int bufferBytes)
    {
        _inner = inner;
        _buffer = new byte[bufferBytes];
    }

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken cancellationToken = default)
    {
        if (_end > _start)
        {
            return new ValueTask<int>(CopyOut(destination.Span));
        }

        if (destination.Length >= _buffer.Length)
        {
            return _inner.ReadAsync(destination, cancellationToken);
        }

        return FillAndCopyAsync(destination, cancellationToken);
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> destination)
    {
        if (_end == _start)
        {
            if (destination.Length >= _buffer.Length)
            {
                return _inner.Read(destination);
            }

            var n = _inner.Read(_buffer);
            if (n == 0)
            {
                return 0;
            }

            _start = 0;
            _end = n;
        }

        return CopyOut(destination);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private async ValueTask<int> FillAndCopyAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        var n = await _inner.ReadAsync(_buffer, cancellationToken).ConfigureAwait(false);
        if (n == 0)
        {
            return 0;
        }

        _start = 0;
        _end = n;
        return CopyOut(destination.Span);
    }

    private int CopyOut(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, _end - _start);
        _buffer.AsSpan(_start, n).CopyTo(destination);
        _start += n;
        return n;
    }
}
