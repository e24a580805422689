using System.Buffers.Binary;

namespace WalrusGossip.Storage.Segments;

/// <summary>A record that failed verification, found by a scan.</summary>
/// <param name="FilePath">Segment file.</param>
/// <param name="Offset">Byte offset of the record's header.</param>
/// <param name="Index">Index expected at that position.</param>
/// <param name="Reason">Which check failed.</param>
public readonly record struct CorruptRecord(string FilePath, long Offset, ulong Index, string Reason);

/// <summary>What a segment scan found.</summary>
/// <param name="DataEnd">Offset just past the last intact record.</param>
/// <param name="NextIndex">Index the next record would have.</param>
/// <param name="TornBytes">Bytes after <paramref name="DataEnd"/> that belong to an incomplete tail write (0 when none).</param>
/// <param name="Corruptions">Corrupt records, in file order; empty when the segment is intact.</param>
public readonly record struct SegmentScanResult(long DataEnd, ulong NextIndex, long TornBytes, IReadOnlyList<CorruptRecord> Corruptions);

/// <summary>
/// Walks the records of one segment, verifying each one's structure, index sequence and CRC-32C, and decides
/// whether a bad record at the end of the open segment is a torn write or corruption.
/// </summary>
/// <remarks>
/// Rule for the open (last) segment: a bad record is a torn write when no later group-commit batch follows it.
/// Under <see cref="DurabilityMode.Always"/> the writer starts a batch only after the previous one is durable, so an
/// intact record of a later batch proves the bad one was acknowledged: that is corruption. Under
/// <see cref="DurabilityMode.None"/> and <see cref="DurabilityMode.Interval"/> batches follow each other without an
/// fdatasync between them, and the page cache may write a later batch back before an earlier one: a bad record there
/// proves only that no fdatasync completed after it was written, so it and everything after it (none of it durable)
/// is the torn tail. Sealed segments never have torn writes.
/// </remarks>
internal static class SegmentScanner
{
    public delegate void RecordVisitor(long offset, in RecordHeader header);

    /// <param name="file">The segment file.</param>
    /// <param name="firstIndex">Index of the segment's first record (from its name).</param>
    /// <param name="isLast">True for the open segment, where a torn tail is allowed.</param>
    /// <param name="maxEntryBytes">Largest valid payload.</param>
    /// <param name="continueAfterCorruption">Keep scanning to report every corrupt record (verify tool) instead of stopping at the first.</param>
    /// <param name="visit">Called for each intact record (after a corruption only when <paramref name="continueAfterCorruption"/>).</param>
    /// <param name="batchesSyncedInOrder">True when the segment was written under <see cref="DurabilityMode.Always"/>
    /// (each batch durable before the next began), so a later intact batch makes an earlier bad record corruption;
    /// false for the non-durable policies, where a bad record of the open segment starts the torn tail wherever it is.</param>
    public static SegmentScanResult Scan(IDeviceFile file, ulong firstIndex, bool isLast, int maxEntryBytes, bool continueAfterCorruption, RecordVisitor? visit,
        bool batchesSyncedInOrder = true)
    {
        var reader = new ChunkReader(file, maxEntryBytes + RecordHeader.Size);
        var corruptions = new List<CorruptRecord>();
        long offset = 0;
        var expected = firstIndex;
        long dataEnd = 0;
        var nextIndex = firstIndex;

        while (true)
        {
            var check = Check(reader, offset, expected, maxEntryBytes, out var header, out var reason);
            if (check == Outcome.Intact)
            {
                visit?.Invoke(offset, header);
                if (corruptions.Count == 0)
                {
                    dataEnd = offset + header.RecordLength;
                    nextIndex = expected + 1;
                }

                offset += header.RecordLength;
                expected++;
                continue;
            }

            if (check == Outcome.End)
            {
                var stray = reader.FirstNonZero(offset);
                if (stray < 0)
                {
                    break;
                }

                reason = $"zero header followed by data at offset {stray}";
            }

            var claimsBatchEnd = check == Outcome.Bad && header.Index == expected && header.IsBatchEnd;
            if (isLast && corruptions.Count == 0 && (!batchesSyncedInOrder || !LaterBatchFollows(reader, offset, expected, maxEntryBytes, claimsBatchEnd)))
            {
                var torn = reader.EndOfNonZero(offset) - offset;
                return new SegmentScanResult(dataEnd, nextIndex, torn, corruptions);
            }

            corruptions.Add(new CorruptRecord(file.Path, offset, expected, reason!));
            if (!continueAfterCorruption)
            {
                break;
            }

            var resume = FindNextRecord(reader, offset + 1, maxEntryBytes, out var resumeHeader);
            if (resume < 0)
            {
                break;
            }

            offset = resume;
            expected = resumeHeader.Index;
        }

        return new SegmentScanResult(dataEnd, nextIndex, 0, corruptions);
    }

    private enum Outcome
    {
        Intact,
        End,
        Bad,
    }

    private static Outcome Check(ChunkReader reader, long offset, ulong expected, int maxEntryBytes, out RecordHeader header, out string? reason)
    {
        header = default;
        reason = null;
        var head = reader.Get(offset, RecordHeader.Size);
        if (head.Length < RecordHeader.Size)
        {
            if (!head.ContainsAnyExcept((byte)0))
            {
                return Outcome.End;
            }

            reason = $"incomplete header ({head.Length} of {RecordHeader.Size} bytes before end of file)";
            return Outcome.Bad;
        }

        if (RecordHeader.IsZero(head))
        {
            return Outcome.End;
        }

        header = RecordHeader.Read(head);
        if (!RecordHeader.LooksValid(head))
        {
            reason = "header magic, reserved bits or entry type invalid";
            return Outcome.Bad;
        }

        if (header.PayloadLength > (uint)maxEntryBytes)
        {
            reason = $"payload length {header.PayloadLength} exceeds the maximum {maxEntryBytes}";
            return Outcome.Bad;
        }

        var record = reader.Get(offset, (int)header.RecordLength);
        if (record.Length < header.RecordLength)
        {
            reason = $"record of {header.RecordLength} bytes cut short at end of file ({record.Length} present)";
            return Outcome.Bad;
        }

        if (!RecordHeader.Verify(record))
        {
            reason = "CRC-32C mismatch";
            return Outcome.Bad;
        }

        if (header.Index != expected)
        {
            reason = $"record holds index {header.Index}, expected {expected}";
            return Outcome.Bad;
        }

        return Outcome.Intact;
    }

    /// <summary>True when an intact record of a group-commit batch later than the one holding <paramref name="badOffset"/> exists after it.</summary>
    /// <remarks>
    /// When the bad record's header is readable and says it ends its batch, the first intact record after it already
    /// belongs to a later batch. A bad record whose header is unreadable is assumed not to end its batch.
    /// </remarks>
    private static bool LaterBatchFollows(ChunkReader reader, long badOffset, ulong badIndex, int maxEntryBytes, bool badEndsBatch)
    {
        var seenBatchEnd = badEndsBatch;
        var at = badOffset + 1;
        while (true)
        {
            var found = FindNextRecord(reader, at, maxEntryBytes, out var header);
            if (found < 0)
            {
                return false;
            }

            if (header.Index > badIndex)
            {
                if (seenBatchEnd)
                {
                    return true;
                }

                seenBatchEnd = header.IsBatchEnd;
            }

            at = found + header.RecordLength;
        }
    }

    /// <summary>Finds the next intact record at or after <paramref name="from"/> by searching for the header magic.</summary>
    private static long FindNextRecord(ChunkReader reader, long from, int maxEntryBytes, out RecordHeader header)
    {
        Span<byte> magic = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(magic, RecordHeader.Magic);
        const int Window = 1 << 20;
        var at = from + 28;
        while (at < reader.Length)
        {
            var span = reader.Get(at, (int)Math.Min(Window, reader.Length - at));
            var i = span.IndexOf(magic);
            if (i < 0)
            {
                at += Math.Max(1, span.Length - 3);
                continue;
            }

            var candidate = at + i - 28;
            at += i + 1;
            if (candidate < from)
            {
                continue;
            }

            var head = reader.Get(candidate, RecordHeader.Size);
            if (head.Length < RecordHeader.Size || !RecordHeader.LooksValid(head))
            {
                continue;
            }

            var h = RecordHeader.Read(head);
            if (h.PayloadLength > (uint)maxEntryBytes || h.Index == 0)
            {
                continue;
            }

            var record = reader.Get(candidate, (int)h.RecordLength);
            if (record.Length == h.RecordLength && RecordHeader.Verify(record))
            {
                header = h;
                return candidate;
            }
        }

        header = default;
        return -1;
    }
}
