using System.Buffers.Binary;

namespace WalrusGossip.Storage.Segments;

/// <summary>
/// What a sealed segment's <c>.idx</c> file records: everything recovery needs to load the segment without reading its
/// records (see <see cref="SegmentIndexFile"/> for the bytes).
/// </summary>
/// <param name="FirstIndex">Index of the segment's first record (the number in its file name).</param>
/// <param name="Count">Records in the segment, at least 1.</param>
/// <param name="DataEnd">Byte offset just past the last record; the segment file is at least this long.</param>
/// <param name="LastRecordOffset">Byte offset of the last record's header.</param>
/// <param name="Anchors">Byte offset of every <see cref="Segment.AnchorStride"/>-th record (slot 0, 64, 128, ...), as a compacted segment keeps them.</param>
/// <param name="TermRuns">(first slot, term) at every term change, first slot 0 first, slots ascending; a slot is the record's position in the segment from 0.</param>
/// <param name="Points">(index, byte offset) every <see cref="StorageOptions.IndexIntervalBytes"/> of data, for tools that seek.</param>
internal sealed record SegmentIndex(
    ulong FirstIndex,
    int Count,
    long DataEnd,
    long LastRecordOffset,
    int[] Anchors,
    (int FirstSlot, ulong Term)[] TermRuns,
    (ulong Index, long Offset)[] Points)
{
    /// <summary>Index of the last record.</summary>
    public ulong LastIndex => FirstIndex + (ulong)Count - 1;

    /// <summary>True when both describe the same records at the same offsets with the same terms.</summary>
    /// <param name="other">Another description, e.g. one rebuilt by a scan.</param>
    /// <returns>Whether every field is equal.</returns>
    public bool SameAs(SegmentIndex other) =>
        FirstIndex == other.FirstIndex && Count == other.Count && DataEnd == other.DataEnd &&
        LastRecordOffset == other.LastRecordOffset && Anchors.AsSpan().SequenceEqual(other.Anchors) &&
        TermRuns.AsSpan().SequenceEqual(other.TermRuns) && Points.AsSpan().SequenceEqual(other.Points);
}

/// <summary>Why a <c>.idx</c> file could not be decoded.</summary>
internal enum SegmentIndexProblem
{
    /// <summary>Decoded.</summary>
    None,

    /// <summary>An <c>IDX1</c> file (sparse points only) from an earlier version: valid, but not enough to skip the scan.</summary>
    OldFormat,

    /// <summary>Short, wrong magic, wrong CRC, or fields that contradict each other.</summary>
    Damaged,
}

/// <summary>
/// Encodes and decodes a sealed segment's <c>.idx</c> file (format <c>IDX2</c>), written once the segment is sealed
/// and fdatasynced. Recovery loads a sealed segment from it instead of scanning the records, after checking it
/// against the segment file (LogStore.SealedSegments.cs); a file that is missing, damaged, in the old
/// <c>IDX1</c> format or inconsistent is replaced after a full scan.
/// </summary>
/// <remarks>
/// Layout, little-endian: a 56-byte header, then the arrays.
/// <list type="bullet">
/// <item>0: u32 magic "IDX2"; 4: u32 CRC-32C of bytes 8 to the end of the file</item>
/// <item>8: u64 first index; 16: i64 data end; 24: i64 offset of the last record</item>
/// <item>32: u32 record count; 36: u32 anchor count; 40: u32 term-run count; 44: u32 sparse-point count</item>
/// <item>48: u64 zero (reserved)</item>
/// <item>56: anchors, u32 offset each; then term runs, u32 first slot and u64 term each; then sparse points, u64 index and u64 offset each</item>
/// </list>
/// </remarks>
internal static class SegmentIndexFile
{
    private const uint Magic = 0x3258_4449; // "IDX2"
    private const uint OldMagic = 0x3158_4449; // "IDX1"
    private const int HeaderSize = 56;
    private const int RunSize = 12;
    private const int PointSize = 16;

    /// <summary>Encodes a sealed segment's index.</summary>
    /// <param name="index">A description whose arrays are consistent with its count (as <see cref="Segment.DescribeSealed"/> builds it).</param>
    /// <returns>The file content.</returns>
    public static byte[] Encode(SegmentIndex index)
    {
        var bytes = new byte[HeaderSize + (index.Anchors.Length * 4) + (index.TermRuns.Length * RunSize) + (index.Points.Length * PointSize)];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], index.FirstIndex);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], index.DataEnd);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], index.LastRecordOffset);
        BinaryPrimitives.WriteUInt32LittleEndian(span[32..], (uint)index.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(span[36..], (uint)index.Anchors.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[40..], (uint)index.TermRuns.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(span[44..], (uint)index.Points.Length);
        var at = HeaderSize;
        foreach (var anchor in index.Anchors)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], anchor);
            at += 4;
        }

        foreach (var (firstSlot, term) in index.TermRuns)
        {
            BinaryPrimitives.WriteInt32LittleEndian(span[at..], firstSlot);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 4)..], term);
            at += RunSize;
        }

        foreach (var (pointIndex, offset) in index.Points)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], pointIndex);
            BinaryPrimitives.WriteInt64LittleEndian(span[(at + 8)..], offset);
            at += PointSize;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32C.Compute(span[8..]));
        return bytes;
    }

    /// <summary>Decodes an index file's content and checks that its fields agree with each other (not with the segment).</summary>
    /// <param name="bytes">The file content.</param>
    /// <param name="index">The description when the result is <see cref="SegmentIndexProblem.None"/>, else null.</param>
    /// <returns><see cref="SegmentIndexProblem.None"/>, or why the content cannot be used.</returns>
    public static SegmentIndexProblem TryDecode(ReadOnlySpan<byte> bytes, out SegmentIndex? index)
    {
        index = null;
        if (bytes.Length >= 4 && BinaryPrimitives.ReadUInt32LittleEndian(bytes) == OldMagic)
        {
            return SegmentIndexProblem.OldFormat;
        }

        if (bytes.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic ||
            Crc32C.Compute(bytes[8..]) != BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]))
        {
            return SegmentIndexProblem.Damaged;
        }

        var firstIndex = BinaryPrimitives.ReadUInt64LittleEndian(bytes[8..]);
        var dataEnd = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        var lastOffset = BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(bytes[32..]);
        var anchorCount = BinaryPrimitives.ReadUInt32LittleEndian(bytes[36..]);
        var runCount = BinaryPrimitives.ReadUInt32LittleEndian(bytes[40..]);
        var pointCount = BinaryPrimitives.ReadUInt32LittleEndian(bytes[44..]);
        var expectedLength = HeaderSize + (anchorCount * 4UL) + (runCount * (ulong)RunSize) + (pointCount * (ulong)PointSize);
        if (firstIndex == 0 || count == 0 || count > int.MaxValue || (ulong)bytes.Length != expectedLength ||
            anchorCount != (count + Segment.AnchorStride - 1) / Segment.AnchorStride || runCount == 0 ||
            lastOffset < 0 || lastOffset + RecordHeader.Size > dataEnd || dataEnd > int.MaxValue)
        {
            return SegmentIndexProblem.Damaged;
        }

        var anchors = new int[anchorCount];
        var at = HeaderSize;
        for (var k = 0; k < anchors.Length; k++, at += 4)
        {
            anchors[k] = BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]);
            if (anchors[k] < 0 || anchors[k] > lastOffset || (k == 0 ? anchors[k] != 0 : anchors[k] <= anchors[k - 1]))
            {
                return SegmentIndexProblem.Damaged;
            }
        }

        var runs = new (int FirstSlot, ulong Term)[runCount];
        for (var r = 0; r < runs.Length; r++, at += RunSize)
        {
            runs[r] = (BinaryPrimitives.ReadInt32LittleEndian(bytes[at..]), BinaryPrimitives.ReadUInt64LittleEndian(bytes[(at + 4)..]));
            if (r == 0 ? runs[r].FirstSlot != 0 : runs[r].FirstSlot <= runs[r - 1].FirstSlot || runs[r].FirstSlot >= count)
            {
                return SegmentIndexProblem.Damaged;
            }
        }

        var points = new (ulong Index, long Offset)[pointCount];
        for (var p = 0; p < points.Length; p++, at += PointSize)
        {
            points[p] = (BinaryPrimitives.ReadUInt64LittleEndian(bytes[at..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[(at + 8)..]));
        }

        index = new SegmentIndex(firstIndex, (int)count, dataEnd, lastOffset, anchors, runs, points);
        return SegmentIndexProblem.None;
    }
}
