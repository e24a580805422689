namespace WalrusGossip.Storage.Records;

/// <summary>
/// Fault injection for tests and the simulator: changes one payload byte of a record and recomputes its CRC-32C, the
/// corruption a checksum cannot catch (a misdirected or buggy write, memory corruption before the checksum was taken).
/// The replica consistency check (<c>WalrusNode.CheckConsistency</c>) exists to find it. Never used by the store itself.
/// </summary>
public static class SilentCorruption
{
    /// <summary>
    /// Walks the records of a segment's bytes from offset 0 and, in the record holding <paramref name="index"/>, flips
    /// the low bit of the first payload byte and rewrites the CRC so the record still verifies.
    /// </summary>
    /// <param name="segment">The whole segment file's content, changed in place.</param>
    /// <param name="index">Index of the record to change.</param>
    /// <returns>The record's offset and length (so the caller can write just those bytes back), or null when no intact
    /// record with a non-empty payload holds <paramref name="index"/>.</returns>
    public static (long Offset, int Length)? FlipPayloadBit(Span<byte> segment, ulong index)
    {
        var offset = 0;
        while (offset + RecordHeader.Size <= segment.Length && !RecordHeader.IsZero(segment[offset..]))
        {
            var header = RecordHeader.Read(segment[offset..]);
            var length = RecordHeader.Size + (long)header.PayloadLength;
            if (!RecordHeader.LooksValid(segment[offset..]) || offset + length > segment.Length)
            {
                return null;
            }

            var record = segment.Slice(offset, (int)length);
            if (header.Index == index)
            {
                if (header.PayloadLength == 0 || !RecordHeader.Verify(record))
                {
                    return null;
                }

                record[RecordHeader.Size] ^= 1;
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(record[8..]));
                return (offset, record.Length);
            }

            offset += (int)length;
        }

        return null;
    }
}
