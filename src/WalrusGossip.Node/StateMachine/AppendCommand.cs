using System.Buffers.Binary;
using System.Text;

namespace WalrusGossip.Node;

/// <summary>
/// The payload of a client append as stored in a Normal log entry (little-endian):
/// <list type="bullet">
/// <item>version 1: u8 1, u64 client id, u64 sequence, u8 stream-name length, stream name (UTF-8), application bytes;</item>
/// <item>version 2: as version 1 with a u64 "acknowledged below" after the stream-name length: every sequence of the
/// session below it has been answered or abandoned by the client, so the session table may forget it (Raft
/// dissertation §6.3). Written only when that value is non-zero, so older entries and sessionless appends keep
/// version 1.</item>
/// </list>
/// Client id 0 means no session (no deduplication).
/// </summary>
public static class AppendCommand
{
    /// <summary>Bytes before the stream name in a version 1 command.</summary>
    public const int FixedHeaderBytes = 18;

    /// <summary>Bytes before the stream name in a version 2 command.</summary>
    public const int FixedHeaderBytesV2 = 26;

    /// <summary>Longest stream name in UTF-8 bytes.</summary>
    public const int MaxStreamBytes = 255;

    /// <summary>Encodes an append.</summary>
    /// <param name="clientId">Session id; 0 for none.</param>
    /// <param name="sequence">Per-client sequence number.</param>
    /// <param name="stream">Optional stream name, at most 255 UTF-8 bytes.</param>
    /// <param name="data">Application bytes.</param>
    /// <param name="acknowledgedBelow">Sequences of this session below this one will never be sent again; 0 when unknown (version 1 is written).</param>
    /// <returns>The entry payload.</returns>
    /// <exception cref="ArgumentException">The stream name is too long.</exception>
    public static byte[] Encode(ulong clientId, ulong sequence, string? stream, ReadOnlySpan<byte> data, ulong acknowledgedBelow = 0)
    {
        var streamBytes = stream is null ? 0 : Encoding.UTF8.GetByteCount(stream);
        if (streamBytes > MaxStreamBytes)
        {
            throw new ArgumentException($"stream name is {streamBytes} bytes; the limit is {MaxStreamBytes}", nameof(stream));
        }

        var header = acknowledgedBelow == 0 ? FixedHeaderBytes : FixedHeaderBytesV2;
        var bytes = new byte[header + streamBytes + data.Length];
        bytes[0] = acknowledgedBelow == 0 ? (byte)1 : (byte)2;
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(1), clientId);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(9), sequence);
        bytes[17] = (byte)streamBytes;
        if (acknowledgedBelow != 0)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(18), acknowledgedBelow);
        }

        if (stream is not null)
        {
            Encoding.UTF8.GetBytes(stream, bytes.AsSpan(header));
        }

        data.CopyTo(bytes.AsSpan(header + streamBytes));
        return bytes;
    }

    /// <summary>Decodes the session fields and where the application bytes start.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <param name="clientId">Session id.</param>
    /// <param name="sequence">Sequence number.</param>
    /// <param name="dataOffset">Offset of the application bytes.</param>
    /// <returns>False when the payload is not an append command (another format, or truncated).</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out ulong clientId, out ulong sequence, out int dataOffset) =>
        TryDecode(payload, out clientId, out sequence, out _, out dataOffset);

    /// <summary>Decodes the session fields, the acknowledgement and where the application bytes start.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <param name="clientId">Session id.</param>
    /// <param name="sequence">Sequence number.</param>
    /// <param name="acknowledgedBelow">Sequences below this one may be forgotten; 0 in version 1 commands.</param>
    /// <param name="dataOffset">Offset of the application bytes.</param>
    /// <returns>False when the payload is not an append command (another format, or truncated).</returns>
    public static bool TryDecode(ReadOnlySpan<byte> payload, out ulong clientId, out ulong sequence, out ulong acknowledgedBelow, out int dataOffset)
    {
        clientId = sequence = acknowledgedBelow = 0;
        dataOffset = 0;
        var header = HeaderBytes(payload);
        if (header == 0)
        {
            return false;
        }

        clientId = BinaryPrimitives.ReadUInt64LittleEndian(payload[1..]);
        sequence = BinaryPrimitives.ReadUInt64LittleEndian(payload[9..]);
        acknowledgedBelow = header == FixedHeaderBytesV2 ? BinaryPrimitives.ReadUInt64LittleEndian(payload[18..]) : 0;
        dataOffset = header + payload[17];
        return true;
    }

    /// <summary>The stream name of an append command, or null when it has none or the payload is not one.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <returns>The stream name or null.</returns>
    public static string? StreamOf(ReadOnlySpan<byte> payload)
    {
        var name = StreamBytesOf(payload);
        return name.IsEmpty ? null : Encoding.UTF8.GetString(name);
    }

    /// <summary>The UTF-8 stream name of an append command, empty when it has none or the payload is not one.</summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <returns>A slice of <paramref name="payload"/>.</returns>
    public static ReadOnlySpan<byte> StreamBytesOf(ReadOnlySpan<byte> payload)
    {
        var header = HeaderBytes(payload);
        return header != 0 && payload[17] > 0 ? payload.Slice(header, payload[17]) : default;
    }

    /// <summary>Header length of a well-formed command (version 1 or 2, long enough for its stream name), else 0.</summary>
    private static int HeaderBytes(ReadOnlySpan<byte> payload)
    {
        var header = payload.Length == 0 ? 0 : payload[0] switch { 1 => FixedHeaderBytes, 2 => FixedHeaderBytesV2, _ => 0 };
        return header != 0 && payload.Length >= header && payload.Length >= header + payload[17] ? header : 0;
    }
}
