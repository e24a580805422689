using System.Buffers.Binary;

namespace WalrusGossip.Storage.Records;

/// <summary>
/// The fixed 32-byte little-endian header in front of every record in a segment file.
/// </summary>
/// <remarks>
/// Layout (byte offset: field):
/// <list type="bullet">
/// <item>0: u32 payload length in bytes</item>
/// <item>4: u32 CRC-32C over bytes 8..31 of the header followed by the payload</item>
/// <item>8: u64 index</item>
/// <item>16: u64 term</item>
/// <item>24: u8 entry type (<see cref="EntryType"/>)</item>
/// <item>25: u8 flags</item>
/// <item>26: u16 storage bits: bit 0 marks the last record of a group-commit batch; other bits zero</item>
/// <item>28: u32 magic 0x314C4157 ("WAL1" in little-endian byte order)</item>
/// </list>
/// A header of 32 zero bytes marks the end of the data in a preallocated segment: index 0 never occurs.
/// </remarks>
/// <param name="PayloadLength">Payload length in bytes.</param>
/// <param name="Crc">Stored CRC-32C.</param>
/// <param name="Index">Log index, at least 1.</param>
/// <param name="Term">Raft term.</param>
/// <param name="Type">Entry type byte as stored (may be invalid in a corrupt record).</param>
/// <param name="Flags">Flags byte.</param>
/// <param name="StorageBits">Storage-private bits; see <see cref="BatchEndBit"/>.</param>
public readonly record struct RecordHeader(uint PayloadLength, uint Crc, ulong Index, ulong Term, byte Type, byte Flags, ushort StorageBits)
{
    /// <summary>Size of the header in bytes.</summary>
    public const int Size = 32;

    /// <summary>Format magic stored at offset 28.</summary>
    public const uint Magic = 0x314C_4157;

    /// <summary>Storage bit (offset 26) set on the last record of each group-commit batch; recovery uses it to tell a torn tail batch from corruption of an earlier, acknowledged one.</summary>
    public const ushort BatchEndBit = 1;

    /// <summary>Total bytes the record occupies in the segment: header plus payload.</summary>
    public long RecordLength => Size + (long)PayloadLength;

    /// <summary>Writes a complete record (header with computed CRC, then payload) into <paramref name="destination"/>.</summary>
    /// <param name="destination">At least <see cref="Size"/> + payload length bytes.</param>
    /// <param name="index">Log index, at least 1.</param>
    /// <param name="term">Raft term.</param>
    /// <param name="type">Entry type.</param>
    /// <param name="flags">Flags byte.</param>
    /// <param name="payload">Entry payload.</param>
    /// <returns>The number of bytes written.</returns>
    public static int Encode(Span<byte> destination, ulong index, ulong term, EntryType type, byte flags, ReadOnlySpan<byte> payload)
    {
        var total = Size + payload.Length;
        var record = destination[..total];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(record[8..], index);
        BinaryPrimitives.WriteUInt64LittleEndian(record[16..], term);
        record[24] = (byte)type;
        record[25] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(record[26..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(record[28..], Magic);
        payload.CopyTo(record[Size..]);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(record[8..]));
        return total;
    }

    /// <summary>Reads a header from the first <see cref="Size"/> bytes of <paramref name="source"/> without validating it.</summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <returns>The decoded header fields.</returns>
    public static RecordHeader Read(ReadOnlySpan<byte> source) => new(
        BinaryPrimitives.ReadUInt32LittleEndian(source),
        BinaryPrimitives.ReadUInt32LittleEndian(source[4..]),
        BinaryPrimitives.ReadUInt64LittleEndian(source[8..]),
        BinaryPrimitives.ReadUInt64LittleEndian(source[16..]),
        source[24],
        source[25],
        BinaryPrimitives.ReadUInt16LittleEndian(source[26..]));

    /// <summary>True when this record ends a group-commit batch.</summary>
    public bool IsBatchEnd => (StorageBits & BatchEndBit) != 0;

    /// <summary>Sets the batch-end bit of an encoded record in place and recomputes its CRC.</summary>
    /// <param name="record">Exactly one encoded record.</param>
    public static void MarkBatchEnd(Span<byte> record)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(record[26..], BatchEndBit);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], Crc32C.Compute(record[8..]));
    }

    /// <summary>True when all <see cref="Size"/> bytes are zero: the end of data in a preallocated segment.</summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <returns>Whether the header area is unwritten.</returns>
    public static bool IsZero(ReadOnlySpan<byte> source) => !source[..Size].ContainsAnyExcept((byte)0);

    /// <summary>
    /// Checks the structural fields (magic, reserved bits, type) and the CRC of a complete record.
    /// </summary>
    /// <param name="record">Exactly the record's bytes: header followed by payload.</param>
    /// <returns>True when the record is intact.</returns>
    public static bool Verify(ReadOnlySpan<byte> record)
    {
        if (record.Length < Size ||
            BinaryPrimitives.ReadUInt32LittleEndian(record[28..]) != Magic ||
            (BinaryPrimitives.ReadUInt16LittleEndian(record[26..]) & ~BatchEndBit) != 0 ||
            BinaryPrimitives.ReadUInt32LittleEndian(record) != record.Length - Size ||
            !Enum.IsDefined((EntryType)record[24]))
        {
            return false;
        }

        return Crc32C.Compute(record[8..]) == BinaryPrimitives.ReadUInt32LittleEndian(record[4..]);
    }

    /// <summary>True when the magic and reserved fields look like a header this version wrote (CRC not checked).</summary>
    /// <param name="source">At least <see cref="Size"/> bytes.</param>
    /// <returns>Whether the header is plausible.</returns>
    public static bool LooksValid(ReadOnlySpan<byte> source) =>
        BinaryPrimitives.ReadUInt32LittleEndian(source[28..]) == Magic &&
        (BinaryPrimitives.ReadUInt16LittleEndian(source[26..]) & ~BatchEndBit) == 0 &&
        Enum.IsDefined((EntryType)source[24]);
}
