using System.Buffers;

namespace WalrusGossip.Protocol;

/// <summary>
/// An encoded frame (header and body) in a buffer rented from <see cref="ArrayPool{T}.Shared"/>. Dispose it exactly
/// once, after the bytes have been written; <see cref="Memory"/> must not be used afterwards.
/// </summary>
public sealed class PooledFrame : IDisposable
{
    private byte[]? _buffer;
    private readonly int _length;

    internal PooledFrame(byte[] buffer, int length)
    {
        _buffer = buffer;
        _length = length;
    }

    /// <summary>The frame bytes.</summary>
    /// <exception cref="ObjectDisposedException">The frame was disposed.</exception>
    public ReadOnlyMemory<byte> Memory => _buffer is { } buffer ? buffer.AsMemory(0, _length) : throw new ObjectDisposedException(nameof(PooledFrame));

    /// <summary>Length of the frame in bytes, header included.</summary>
    public int Length => _length;

    /// <summary>Returns the buffer to the pool.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
