using System.Buffers.Binary;

namespace WalrusGossip.Storage.Segments;

/// <summary>
/// A sealed segment's <c>.idx</c> file: (index, byte offset) points every <see cref="StorageOptions.IndexIntervalBytes"/>
/// of data, written when the segment is sealed. It is derived data: checked against the segment on open and
/// rebuilt when missing or wrong; tools use it to seek without scanning.
/// </summary>
/// <remarks>Layout, little-endian: u32 magic "IDX1", u32 CRC-32C of the rest, u32 point count, u32 zero, then per point u64 index and u64 offset.</remarks>
public static class SparseIndexFile
{
    private const uint Magic = 0x3158_4449; // "IDX1"
    private const int HeaderSize = 16;

    /// <summary>Encodes index points.</summary>
    /// <param name="points">Points in ascending index order.</param>
    /// <returns>The file content.</returns>
    public static byte[] Encode(IReadOnlyList<(ulong Index, long Offset)> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var bytes = new byte[HeaderSize + (points.Count * 16)];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], (uint)points.Count);
        for (var i = 0; i < points.Count; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span[(HeaderSize + (i * 16))..], points[i].Index);
            BinaryPrimitives.WriteInt64LittleEndian(span[(HeaderSize + (i * 16) + 8)..], points[i].Offset);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32C.Compute(span[8..]));
        return bytes;
    }

    /// <summary>Decodes an index file's content.</summary>
    /// <param name="bytes">The file content.</param>
    /// <param name="points">The points, when valid.</param>
    /// <returns>False when the content is short, has the wrong magic or fails its CRC.</returns>
    public static bool TryDecode(ReadOnlySpan<byte> bytes, out List<(ulong Index, long Offset)> points)
    {
        points = [];
        if (bytes.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic ||
            Crc32C.Compute(bytes[8..]) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]))
        {
            return false;
        }

        var count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if ((ulong)bytes.Length != HeaderSize + (count * 16UL))
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            points.Add((BinaryPrimitives.ReadUInt64LittleEndian(bytes[(HeaderSize + (i * 16))..]),
                BinaryPrimitives.ReadInt64LittleEndian(bytes[(HeaderSize + (i * 16) + 8)..])));
        }

        return true;
    }

    internal static bool Matches(List<(ulong Index, long Offset)> stored, List<(ulong Index, long Offset)> expected)
    {
        if (stored.Count != expected.Count)
        {
            return false;
        }

        for (var i = 0; i < stored.Count; i++)
        {
            if (stored[i] != expected[i])
            {
                return false;
            }
        }

        return true;
    }
}
