using System.Buffers;

namespace WalrusGossip.Storage;

/// <summary>
/// Loading sealed segments at open from their index files (<see cref="SegmentIndexFile"/>) instead of scanning their
/// records, so reopen time depends on the open segment's size, not on the length of the retained log. An index is
/// trusted only when it is consistent with the segment file; otherwise recovery scans the segment and rewrites it.
/// </summary>
public sealed partial class LogStore
{
    /// <summary>Records whose CRC-32C, index and framing recovery verified by scanning at open: the open segment's, plus those of sealed segments without a usable index file.</summary>
    public long RecoveredRecordsScanned { get; private set; }

    /// <summary>
    /// Records of sealed segments that recovery loaded from their index files at open without reading them (only the
    /// first and last record of each such segment were read and verified). Every read of them still verifies its CRC;
    /// <see cref="StoreVerifier"/> (<c>walrusctl store verify</c>) scans them all.
    /// </summary>
    public long RecoveredRecordsTrusted { get; private set; }

    /// <summary>Segments recovery scanned record by record at open (the open segment included).</summary>
    public int SegmentsScanned { get; private set; }

    /// <summary>Sealed segments recovery loaded from their index files at open.</summary>
    public int SegmentsTrusted { get; private set; }

    /// <summary>
    /// Loads the sealed segment starting at <paramref name="start"/> from its index file when the index is intact and
    /// consistent with the segment file: its first index is <paramref name="start"/>, it ends just before
    /// <paramref name="nextStart"/>, the file is at least as long as its data end, the first record (at offset 0) and
    /// the last record (reached by walking the headers from the last anchor) verify with the indexes and terms the
    /// index gives, the last record ends exactly at the data end, and the bytes after it are zero.
    /// </summary>
    /// <param name="start">First index, from the segment's file name.</param>
    /// <param name="nextStart">First index of the next segment; null for the last segment (one whose index file survived
    /// because it was sealed when the store stopped: a crash part-way through a truncation that deleted the segments after it).</param>
    /// <param name="path">The segment file.</param>
    /// <param name="file">The open segment file; owned by the returned segment, left open for a scan otherwise.</param>
    /// <param name="present">Whether the index file exists.</param>
    /// <param name="why">When null is returned: why the index was not trusted, for the log line.</param>
    /// <returns>The compacted, sealed segment, or null when the segment must be scanned.</returns>
    private Segment? TryLoadSealedSegment(ulong start, ulong? nextStart, string path, IDeviceFile file, bool present, out string? why)
    {
        var indexPath = PathOf(SegmentNames.Index(start));
        if (!present)
        {
            why = "missing";
            return null;
        }

        var problem = SegmentIndexFile.TryDecode(AtomicFile.ReadAll(_device, indexPath), out var index);
        why = problem switch
        {
            SegmentIndexProblem.OldFormat => "in the old IDX1 format (no record count, anchors or terms)",
            SegmentIndexProblem.Damaged => "damaged (bad length, magic, CRC or fields)",
            _ => CheckAgainstSegment(index!, start, nextStart, file),
        };
        if (why is not null)
        {
            return null;
        }

        return Segment.FromIndex(path, indexPath, file, index!);
    }

    /// <summary>The cheap consistency checks of <see cref="TryLoadSealedSegment"/>; null when all pass, else the first failure.</summary>
    private string? CheckAgainstSegment(SegmentIndex index, ulong start, ulong? nextStart, IDeviceFile file)
    {
        if (index.FirstIndex != start)
        {
            return $"inconsistent with its segment (it starts at index {index.FirstIndex}, the segment at {start})";
        }

        if (nextStart is not null && index.LastIndex + 1 != nextStart)
        {
            return $"inconsistent with its segment (it ends at index {index.LastIndex}, the next segment starts at {nextStart})";
        }

        var length = file.Length;
        if (length < index.DataEnd)
        {
            return $"inconsistent with its segment (data end {index.DataEnd}, the file holds {length} bytes)";
        }

        var first = VerifyRecordAt(file, 0, index.DataEnd, start, index.TermRuns[0].Term, out var firstLength);
        if (first is not null)
        {
            return $"inconsistent with its segment (first record: {first})";
        }

        if (index.Count == 1 && (index.LastRecordOffset != 0 || firstLength != index.DataEnd))
        {
            return "inconsistent with its segment (its only record does not end at the data end)";
        }

        Span<byte> head = stackalloc byte[RecordHeader.Size];
        long offset = index.Anchors[^1];
        for (var slot = (index.Anchors.Length - 1) * Segment.AnchorStride; slot < index.Count - 1; slot++)
        {
            if (offset > index.LastRecordOffset || file.Read(offset, head) < RecordHeader.Size || !RecordHeader.LooksValid(head))
            {
                return $"inconsistent with its segment (no record header at offset {offset} after the last anchor)";
            }

            var header = RecordHeader.Read(head);
            if (header.Index != start + (ulong)slot || header.PayloadLength > (uint)_options.MaxEntryBytes)
            {
                return $"inconsistent with its segment (the header at offset {offset} holds index {header.Index}, expected {start + (ulong)slot})";
            }

            offset += header.RecordLength;
        }

        if (offset != index.LastRecordOffset)
        {
            return $"inconsistent with its segment (the headers after the last anchor lead to offset {offset}, the index says {index.LastRecordOffset})";
        }

        var last = VerifyRecordAt(file, offset, index.DataEnd, index.LastIndex, index.TermRuns[^1].Term, out var lastLength);
        if (last is not null)
        {
            return $"inconsistent with its segment (last record: {last})";
        }

        if (offset + lastLength != index.DataEnd)
        {
            return $"inconsistent with its segment (the last record ends at {offset + lastLength}, the index says {index.DataEnd})";
        }

        var tail = head[..(int)Math.Min(RecordHeader.Size, length - index.DataEnd)];
        if (file.Read(index.DataEnd, tail) != tail.Length || tail.ContainsAnyExcept((byte)0))
        {
            return $"inconsistent with its segment (data follows the data end {index.DataEnd})";
        }

        return null;
    }

    /// <summary>Reads the record at <paramref name="offset"/> and checks framing, CRC-32C, index and term; null when it verifies, else why not.</summary>
    /// <param name="file">Segment file.</param>
    /// <param name="offset">Byte offset of the record's header.</param>
    /// <param name="limit">The record must end at or before this byte offset.</param>
    /// <param name="index">Index the record must hold.</param>
    /// <param name="term">Term the record must hold.</param>
    /// <param name="recordLength">Header plus payload bytes, when the header was readable.</param>
    private string? VerifyRecordAt(IDeviceFile file, long offset, long limit, ulong index, ulong term, out long recordLength)
    {
        recordLength = 0;
        Span<byte> head = stackalloc byte[RecordHeader.Size];
        if (file.Read(offset, head) < RecordHeader.Size || !RecordHeader.LooksValid(head))
        {
            return $"no valid header at offset {offset}";
        }

        var header = RecordHeader.Read(head);
        recordLength = header.RecordLength;
        if (header.PayloadLength > (uint)_options.MaxEntryBytes || offset + recordLength > limit)
        {
            return $"record at offset {offset} is {recordLength} bytes, past the data end {limit}";
        }

        if (header.Index != index || header.Term != term)
        {
            return $"record at offset {offset} holds index {header.Index} term {header.Term}, expected index {index} term {term}";
        }

        var buffer = ArrayPool<byte>.Shared.Rent((int)recordLength);
        try
        {
            var record = buffer.AsSpan(0, (int)recordLength);
            return file.Read(offset, record) == record.Length && RecordHeader.Verify(record)
                ? null
                : $"record at offset {offset} fails its CRC-32C";
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// A read found a record of the sealed segment <paramref name="segment"/> corrupt: deletes the segment's index file
    /// (and fsyncs the directory) so the next open scans the segment and stops with <see cref="LogCorruptionException"/>
    /// at open instead of trusting it again. Called under the read lock; failures are logged, the read's error stands.
    /// </summary>
    private void DistrustSegmentIndex(Segment segment, LogCorruptionException found)
    {
        try
        {
            WaitQuietly(Volatile.Read(ref _indexTask)); // an index still being written for this segment must not land after the delete
            _device.DeleteFile(segment.IndexPath);
            _device.SyncDirectory(_directory);
            LogIndexDistrusted(_logger, segment.IndexPath, found.Index);
        }
        catch (IOException e)
        {
            LogIndexWriteFailed(_logger, segment.IndexPath, e.Message);
        }
    }

    [LoggerMessage(EventId = 15, Level = LogLevel.Error, Message = "deleted segment index {Path}: a read found index {Index} corrupt, so the next open scans the segment and reports it")]
    private static partial void LogIndexDistrusted(ILogger logger, string path, ulong index);
}
