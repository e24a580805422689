using System.Buffers.Binary;
using System.Text;

namespace WalrusGossip.Node;

/// <summary>
/// The payload of a client append as stored in a Normal log entry: version byte 1, u64 client id, u64 sequence
/// (little-endian), u8 stream-name length, stream name (UTF-8), then the application's bytes. Client id 0 means
/// no session (no deduplication).
/// </summary>
public static class AppendCommand
{
    /// <summary>Bytes before the stream name.</summary>
    public const int FixedHeaderBytes = 18;

    /// <summary>Longest stream name in UTF-8 bytes.</summary>
    public const int MaxStreamBytes = 255;

    /// <summary>Encodes an append.</summary>
    /// <param name="clientId">Session id; 0 for none.</param>
    /// <param name="sequence">Per-client sequence number.</param>
    /// <param name="stream">Optional stream name, at most 255 UTF-8 bytes.</param>
    /// <param name="data">Application bytes.</param>
    /// <returns>The entry payload.</returns>
    /// <exception cref="ArgumentException">The stream name is too long.</exception>
    public static byte[] Encode(ulong clientId, ulong sequence, string? stream, ReadOnlySpan<byte> data)
    {
        var streamBytes = stream is null ? 0 : Encoding.UTF8.GetByteCount(stream);
        if (streamBytes > MaxStreamBytes)
        {
            throw new ArgumentException($"stream name is {streamBytes} bytes; the limit is {MaxStreamBytes}", nameof(stream));
        }

        var bytes = new byte[FixedHeaderBytes + streamBytes + data.Length];
        bytes[0] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(1), clientId);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(9), sequence);
        bytes[17] = (byte)streamBytes;
        if (stream is not null)
        {
            Encoding.UTF8.GetBytes(stream, bytes.AsSpan(FixedHeaderBytes));
        }

        data.CopyTo(bytes.AsSpan(FixedHeaderBytes + streamBytes));
        return bytes;
    }

    /// <summary>Decodes the session fields of an entry payload.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <param name="clientId">Client id, 0 when none.</param>
    /// <param name="sequence">Sequence number.</param>
    /// <param name="dataOffset">Where the application bytes start.</param>
    /// <returns>False when the payload is not an encoded append (then it is treated as session-less data).</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out ulong clientId, out ulong sequence, out int dataOffset)
    {
        clientId = sequence = 0;
        dataOffset = 0;
        if (payload.Length < FixedHeaderBytes || payload[0] != 1 || payload.Length < FixedHeaderBytes + payload[17])
        {
            return false;
        }

        clientId = BinaryPrimitives.ReadUInt64LittleEndian(payload[1..]);
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(payload[9..]);
        dataOffset = FixedHeaderBytes + payload[17];
        return true;
    }

    /// <summary>The stream name of an encoded append, or null.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <returns>The stream name, or null when none or not an encoded append.</returns>
    public static string? StreamOf(ReadOnlySpan<byte> payload) =>
        payload.Length >= FixedHeaderBytes && payload[0] == 1 && payload[17] > 0 && payload.Length >= FixedHeaderBytes + payload[17]
            ? Encoding.UTF8.GetString(payload.Slice(FixedHeaderBytes, payload[17]))
            : null;
}
