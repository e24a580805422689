using System.Buffers.Binary;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Protocol;

/// <summary>
/// The 6-byte frame header: u32 little-endian <see cref="Length"/> of (type + body), then u16 little-endian
/// <see cref="Type"/>. The body follows; its length is <see cref="BodyLength"/>.
/// </summary>
/// <param name="Length">Bytes after the length prefix: 2 for the type plus the body length.</param>
/// <param name="Type">The body's message type.</param>
public readonly record struct FrameHeader(uint Length, MessageType Type)
{
    /// <summary>Size of the length prefix in bytes.</summary>
    public const int LengthPrefixBytes = 4;

    /// <summary>Size of the message type in bytes.</summary>
    public const int TypeBytes = 2;

    /// <summary>Size of the whole header in bytes.</summary>
    public const int Size = LengthPrefixBytes + TypeBytes;

    /// <summary>Length of the protobuf body in bytes.</summary>
    public int BodyLength => (int)Length - TypeBytes;

    /// <summary>
    /// Reads and checks the length prefix alone, before anything else of the frame is read or allocated.
    /// </summary>
    /// <param name="prefix">At least <see cref="LengthPrefixBytes"/> bytes.</param>
    /// <param name="maxFrameBytes">Largest accepted length.</param>
    /// <returns>The length: bytes of type plus body still to read.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/> above <paramref name="maxFrameBytes"/>;
    /// <see cref="ProtocolErrorKind.Malformed"/> when smaller than the type field.</exception>
    public static uint ReadLength(ReadOnlySpan<byte> prefix, int maxFrameBytes)
    {
        var length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
        if (length > (uint)maxFrameBytes)
        {
            throw new ProtocolException(ProtocolErrorKind.FrameTooLarge, $"frame length {length} exceeds MaxFrameBytes {maxFrameBytes}");
        }

        if (length < TypeBytes)
        {
            throw new ProtocolException(ProtocolErrorKind.Malformed, $"frame length {length} is shorter than the {TypeBytes}-byte message type");
        }

        return length;
    }

    /// <summary>Reads the message type that follows the length prefix and checks that it is known.</summary>
    /// <param name="typeBytes">At least <see cref="TypeBytes"/> bytes.</param>
    /// <returns>The message type.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.UnknownMessageType"/>.</exception>
    public static MessageType ReadType(ReadOnlySpan<byte> typeBytes)
    {
        var type = (MessageType)BinaryPrimitives.ReadUInt16LittleEndian(typeBytes);
        return MessageTypes.IsKnown(type)
            ? type
            : throw new ProtocolException(ProtocolErrorKind.UnknownMessageType, $"unknown message type {(ushort)type}");
    }

    /// <summary>Reads and validates a complete header.</summary>
    /// <param name="header">At least <see cref="Size"/> bytes.</param>
    /// <param name="maxFrameBytes">Largest accepted length.</param>
    /// <returns>The header.</returns>
    /// <exception cref="ProtocolException">The length or type is invalid.</exception>
    public static FrameHeader Read(ReadOnlySpan<byte> header, int maxFrameBytes)
    {
        var length = ReadLength(header, maxFrameBytes);
        return new FrameHeader(length, ReadType(header[LengthPrefixBytes..]));
    }

    /// <summary>Writes this header.</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    public void Write(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, Length);
        BinaryPrimitives.WriteUInt16LittleEndian(destination[LengthPrefixBytes..], (ushort)Type);
    }
}
