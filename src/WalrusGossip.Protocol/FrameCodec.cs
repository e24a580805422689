using System.Buffers;
using Google.Protobuf;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Protocol;

/// <summary>
/// Encodes protobuf messages into frames and decodes frames from bytes or streams. The length prefix is always
/// checked against the maximum frame size before a body buffer is allocated, so a hostile prefix costs nothing.
/// </summary>
public static class FrameCodec
{
    /// <summary>Encodes a frame into a pooled buffer.</summary>
    /// <param name="type">The message type written in the header; must match <paramref name="message"/>.</param>
    /// <param name="message">The body.</param>
    /// <param name="maxFrameBytes">Largest frame length allowed (type + body).</param>
    /// <returns>The frame; dispose it after writing.</returns>
    /// <exception cref="ArgumentException"><paramref name="type"/> does not match the message.</exception>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/>: the message does not fit in a frame.</exception>
    public static PooledFrame EncodePooled(MessageType type, IMessage message, int maxFrameBytes = ProtocolLimits.DefaultMaxFrameBytes)
    {
        var bodyLength = CheckedBodyLength(type, message, maxFrameBytes);
        var total = FrameHeader.Size + bodyLength;
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        WriteFrame(type, message, bodyLength, buffer.AsSpan(0, total));
        return new PooledFrame(buffer, total);
    }

    /// <summary>Encodes a frame into a new array.</summary>
    /// <param name="type">The message type written in the header; must match <paramref name="message"/>.</param>
    /// <param name="message">The body.</param>
    /// <param name="maxFrameBytes">Largest frame length allowed (type + body).</param>
    /// <returns>The frame bytes.</returns>
    /// <exception cref="ArgumentException"><paramref name="type"/> does not match the message.</exception>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/>: the message does not fit in a frame.</exception>
    public static byte[] Encode(MessageType type, IMessage message, int maxFrameBytes = ProtocolLimits.DefaultMaxFrameBytes)
    {
        var bodyLength = CheckedBodyLength(type, message, maxFrameBytes);
        var bytes = new byte[FrameHeader.Size + bodyLength];
        WriteFrame(type, message, bodyLength, bytes);
        return bytes;
    }

    /// <summary>Decodes exactly one complete frame.</summary>
    /// <param name="frame">Header and body, nothing more.</param>
    /// <param name="maxFrameBytes">Largest accepted frame length.</param>
    /// <returns>The type and message.</returns>
    /// <exception cref="ProtocolException">Any violation; <see cref="ProtocolErrorKind.Truncated"/> when bytes are missing,
    /// <see cref="ProtocolErrorKind.Malformed"/> when bytes follow the frame.</exception>
    public static (MessageType Type, IMessage Message) Decode(ReadOnlySpan<byte> frame, int maxFrameBytes = ProtocolLimits.DefaultMaxFrameBytes)
    {
        if (frame.Length < FrameHeader.LengthPrefixBytes)
        {
            throw new ProtocolException(ProtocolErrorKind.Truncated, $"{frame.Length} bytes cannot hold a length prefix");
        }

        var length = FrameHeader.ReadLength(frame, maxFrameBytes);
        var available = frame.Length - FrameHeader.LengthPrefixBytes;
        if ((uint)available < length)
        {
            throw new ProtocolException(ProtocolErrorKind.Truncated, $"frame length {length} but only {available} bytes follow the prefix");
        }

        if ((uint)available > length)
        {
            throw new ProtocolException(ProtocolErrorKind.Malformed, $"{available - length} bytes follow a frame of length {length}");
        }

        var type = FrameHeader.ReadType(frame[FrameHeader.LengthPrefixBytes..]);
        return (type, MessageTypes.Parse(type, frame[FrameHeader.Size..]));
    }

    /// <summary>
    /// Reads one frame from a stream. Reads the 4-byte length first and refuses it before reading or allocating anything
    /// more; the body is read into a pooled buffer that is returned before this method completes.
    /// </summary>
    /// <param name="stream">The stream, positioned at a frame boundary.</param>
    /// <param name="maxFrameBytes">Largest accepted frame length (type + body).</param>
    /// <param name="cancellationToken">Cancels the read; the stream is then no longer at a frame boundary.</param>
    /// <returns>The frame, or null when the stream ended cleanly at a frame boundary.</returns>
    /// <exception cref="ProtocolException">Any violation; <see cref="ProtocolErrorKind.Truncated"/> when the stream ends mid-frame.</exception>
    public static async ValueTask<(MessageType Type, IMessage Message)?> ReadFrameAsync(Stream stream, int maxFrameBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = ArrayPool<byte>.Shared.Rent(FrameHeader.Size);
        try
        {
            var frame = await ReadFrameAsync(stream, header, maxFrameBytes, cancellationToken).ConfigureAwait(false);
            return frame is { } f ? (f.Type, f.Message) : null;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(header);
        }
    }

    /// <summary>Reads one frame, using a caller-owned scratch buffer for the header (a connection keeps one).</summary>
    /// <param name="stream">The stream, positioned at a frame boundary.</param>
    /// <param name="headerScratch">At least <see cref="FrameHeader.Size"/> bytes, not used concurrently.</param>
    /// <param name="maxFrameBytes">Largest accepted frame length.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The frame and its length on the wire (header included), or null at clean end of stream.</returns>
    /// <exception cref="ProtocolException">Any violation.</exception>
    internal static async ValueTask<(MessageType Type, IMessage Message, int WireBytes)?> ReadFrameAsync(
        Stream stream, byte[] headerScratch, int maxFrameBytes, CancellationToken cancellationToken)
    {
        var prefix = headerScratch.AsMemory(0, FrameHeader.LengthPrefixBytes);
        var got = await ReadUpToAsync(stream, prefix, cancellationToken).ConfigureAwait(false);
        if (got == 0)
        {
            return null;
        }

        if (got < FrameHeader.LengthPrefixBytes)
        {
            throw new ProtocolException(ProtocolErrorKind.Truncated, $"stream ended after {got} of {FrameHeader.LengthPrefixBytes} length bytes");
        }

        var length = FrameHeader.ReadLength(prefix.Span, maxFrameBytes);
        var typeBytes = headerScratch.AsMemory(FrameHeader.LengthPrefixBytes, FrameHeader.TypeBytes);
        await ReadExactlyAsync(stream, typeBytes, length, cancellationToken).ConfigureAwait(false);
        var type = FrameHeader.ReadType(typeBytes.Span);
        var bodyLength = (int)length - FrameHeader.TypeBytes;
        if (bodyLength == 0)
        {
            return (type, MessageTypes.Parse(type, []), FrameHeader.Size);
        }

        var body = ArrayPool<byte>.Shared.Rent(bodyLength);
        try
        {
            await ReadExactlyAsync(stream, body.AsMemory(0, bodyLength), length, cancellationToken).ConfigureAwait(false);
            return (type, MessageTypes.Parse(type, body.AsSpan(0, bodyLength)), FrameHeader.Size + bodyLength);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    /// <summary>Encodes and writes one frame, then flushes.</summary>
    /// <param name="stream">The stream; the caller serializes concurrent writers.</param>
    /// <param name="type">The message type; must match <paramref name="message"/>.</param>
    /// <param name="message">The body.</param>
    /// <param name="maxFrameBytes">Largest frame length allowed.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write leaves the stream mid-frame.</param>
    /// <returns>A task that completes when the frame is flushed.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/>: the message does not fit.</exception>
    public static async ValueTask WriteFrameAsync(Stream stream, MessageType type, IMessage message, int maxFrameBytes, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var frame = EncodePooled(type, message, maxFrameBytes);
        await stream.WriteAsync(frame.Memory, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static int CheckedBodyLength(MessageType type, IMessage message, int maxFrameBytes)
    {
        ArgumentNullException.ThrowIfNull(message);
        var actual = MessageTypes.TypeOf(message);
        if (actual != type)
        {
            throw new ArgumentException($"message {message.GetType().Name} is {actual}, not {type}", nameof(type));
        }

        var bodyLength = message.CalculateSize();
        if ((long)bodyLength + FrameHeader.TypeBytes > maxFrameBytes)
        {
            throw new ProtocolException(ProtocolErrorKind.FrameTooLarge, $"{type} of {bodyLength} bytes exceeds MaxFrameBytes {maxFrameBytes}");
        }

        return bodyLength;
    }

    private static void WriteFrame(MessageType type, IMessage message, int bodyLength, Span<byte> destination)
    {
        new FrameHeader((uint)(bodyLength + FrameHeader.TypeBytes), type).Write(destination);
        message.WriteTo(destination.Slice(FrameHeader.Size, bodyLength));
    }

    private static async ValueTask<int> ReadUpToAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                break;
            }

            total += n;
        }

        return total;
    }

    private static async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> buffer, uint frameLength, CancellationToken cancellationToken)
    {
        var got = await ReadUpToAsync(stream, buffer, cancellationToken).ConfigureAwait(false);
        if (got < buffer.Length)
        {
            throw new ProtocolException(ProtocolErrorKind.Truncated, $"stream ended inside a frame of length {frameLength}");
        }
    }
}
