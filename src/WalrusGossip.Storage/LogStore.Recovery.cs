namespace WalrusGossip.Storage;

public sealed partial class LogStore
{
    private const uint FirstIndexMagic = 0x3158_4946; // "FIX1"

    /// <summary>A zero-filled segment file prepared ahead of the next roll; not part of the log until renamed.</summary>
    private const string SpareSegmentName = "spare-segment.tmp";

    /// <summary>
    /// Opens every segment: the last (open) one is scanned record by record (CRC-32C, index sequence, torn tail); a
    /// sealed one is loaded from its index file when the file is consistent with the segment
    /// (<see cref="TryLoadSealedSegment"/>), else scanned in full and its index file rewritten.
    /// </summary>
    private void Recover()
    {
        var names = ListDirectory();
        var firstIndex = ReadFirstIndexFile();
        var segmentStarts = new List<ulong>();
        var indexFiles = new HashSet<ulong>();
        foreach (var name in names)
        {
            if (SegmentNames.TryParse(name, out var start, out var isSegment))
            {
                if (isSegment)
                {
                    segmentStarts.Add(start);
                }
                else
                {
                    indexFiles.Add(start);
                }
            }
        }

        segmentStarts.Sort();
        firstIndex ??= segmentStarts.Count > 0 ? segmentStarts[0] : 1;
        var stale = 0;
        while (stale + 1 < segmentStarts.Count && segmentStarts[stale + 1] <= firstIndex.Value)
        {
            stale++;
        }

        for (var i = 0; i < segmentStarts.Count; i++)
        {
            var start = segmentStarts[i];
            var isLast = i == segmentStarts.Count - 1;
            var path = PathOf(SegmentNames.Segment(start));
            if (i < stale)
            {
                DeleteSegmentFiles(start);
                LogStaleSegmentRemoved(_logger, path, firstIndex.Value);
                continue;
            }

            if (_segments.Count > 0 && _segments[^1].LastIndex + 1 != start)
            {
                var previous = _segments[^1];
                throw new LogCorruptionException(previous.Path, previous.End, previous.LastIndex + 1,
                    $"indexes {previous.LastIndex + 1}..{start - 1} are missing: the segment ends early and the next one starts at {start}");
            }

            if (_segments.Count == 0 && start > firstIndex.Value)
            {
                throw new LogCorruptionException(path, 0, firstIndex.Value,
                    $"indexes {firstIndex.Value}..{start - 1} are missing: the log should start at {firstIndex.Value}");
            }

            var file = _device.Open(path, DeviceOpenMode.OpenExisting);
            string? whyScanned = null;
            // The last segment is normally the open one (no index file: reopening deletes it). One that still has an
            // index consistent with it was sealed when the store stopped (a crash part-way through a truncation that
            // deleted the segments after it): it stays sealed, so the start-up scrub finds its damage instead of the
            // open-segment scan failing on it (walrus-sim seed 175), and the next append starts a new segment.
            if (!isLast || indexFiles.Contains(start))
            {
                var trusted = TryLoadSealedSegment(start, isLast ? null : segmentStarts[i + 1], path, file, indexFiles.Contains(start), out whyScanned);
                if (trusted is not null)
                {
                    _segments.Add(trusted);
                    SegmentsTrusted++;
                    RecoveredRecordsTrusted += trusted.Count;
                    continue;
                }
            }

            var segment = new Segment(start, path, PathOf(SegmentNames.Index(start)), file, 1024);
            _segments.Add(segment);
            var syncedInOrder = _options.Durability.Mode == DurabilityMode.Always;
            var result = SegmentScanner.Scan(file, start, isLast, _options.MaxEntryBytes, continueAfterCorruption: false,
                (long offset, in RecordHeader header) => segment.Add(offset, header.Term), syncedInOrder);
            if (result.Corruptions.Count > 0)
            {
                var bad = result.Corruptions[0];
                throw new LogCorruptionException(bad.FilePath, bad.Offset, bad.Index, bad.Reason);
            }

            segment.End = result.DataEnd;
            SegmentsScanned++;
            RecoveredRecordsScanned += segment.Count;
            if (result.TornBytes > 0)
            {
                RecoveredTornBytes = result.TornBytes;
                if (syncedInOrder)
                {
                    LogTornTail(_logger, path, result.DataEnd, result.TornBytes);
                }
                else
                {
                    LogUnsyncedTailDropped(_logger, path, result.DataEnd, result.TornBytes, _options.Durability.Mode);
                }

                ZeroFrom(segment, result.DataEnd);
            }

            if (isLast)
            {
                if (indexFiles.Contains(start))
                {
                    _device.DeleteFile(segment.IndexPath);
                }
            }
            else
            {
                segment.Sealed = true;
                if (segment.Count > 0)
                {
                    LogIndexRebuilt(_logger, segment.IndexPath, whyScanned!);
                    WriteSegmentIndex(segment, segment.DescribeSealed(_options.IndexIntervalBytes));
                }

                segment.Compact();
            }
        }

        if (_segments.Count > 0 && _segments[^1].LastIndex < firstIndex.Value)
        {
            var last = _segments[^1];
            if (last.LastIndex + 1 < firstIndex.Value)
            {
                foreach (var s in _segments)
                {
                    s.Dispose();
                    DeleteSegmentFiles(s.FirstIndex);
                }

                _segments.Clear();
            }
        }

        _firstIndex = firstIndex.Value;
        _lastIndex = _segments.Count > 0 ? Math.Max(_segments[^1].LastIndex, _firstIndex - 1) : _firstIndex - 1;
        _ackedLast = _lastIndex;
        _nextIndex = _lastIndex + 1;
    }

    private List<string> ListDirectory()
    {
        try
        {
            _device.CreateDirectory(_directory);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"cannot create log directory {_directory}: {e.Message}", e);
        }

        var names = new List<string>();
        var unknown = new List<string>();
        foreach (var name in _device.ListFiles(_directory))
        {
            if (IsOwnTemporaryFile(name))
            {
                // An atomic replace or spare preparation interrupted by a crash: never part of the log.
                _device.DeleteFile(PathOf(name));
                continue;
            }

            if (name == SegmentNames.FirstIndexFileName || SegmentNames.TryParse(name, out _, out _))
            {
                names.Add(name);
            }
            else
            {
                unknown.Add(name);
            }
        }

        if (unknown.Count > 0)
        {
            throw new DataDirectoryException(
                $"log directory {_directory} holds files the store does not recognise: {string.Join(", ", unknown)}. " +
                "Move them elsewhere; nothing was modified.");
        }

        return names;
    }

    private static bool IsOwnTemporaryFile(string name)
    {
        if (name == SpareSegmentName)
        {
            return true;
        }

        if (!name.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal))
        {
            return false;
        }

        var target = name[..^AtomicFile.TempSuffix.Length];
        return target == SegmentNames.FirstIndexFileName || SegmentNames.TryParse(target, out _, out _);
    }

    private ulong? ReadFirstIndexFile() =>
        AtomicFile.ReadValue(_device, PathOf(SegmentNames.FirstIndexFileName), FirstIndexMagic, "first-index file");

    private void WriteFirstIndexFile(ulong firstIndex) =>
        AtomicFile.ReplaceValue(_device, PathOf(SegmentNames.FirstIndexFileName), FirstIndexMagic, firstIndex);

    private void WriteSegmentIndex(Segment segment, SegmentIndex index) =>
        AtomicFile.Replace(_device, segment.IndexPath, SegmentIndexFile.Encode(index));

    /// <summary>Discards everything from <paramref name="offset"/> and re-reserves the segment's full size, so the discarded range reads as zeros.</summary>
    private void ZeroFrom(Segment segment, long offset)
    {
        segment.File.SetLength(offset);
        segment.File.Allocate(Math.Max(_options.MaxSegmentBytes, offset), writeZeros: ZeroFill);
        segment.File.SyncAll();
    }

    private void DeleteSegmentFiles(ulong firstIndex)
    {
        _device.DeleteFile(PathOf(SegmentNames.Segment(firstIndex)));
        _device.DeleteFile(PathOf(SegmentNames.Index(firstIndex)));
    }

    [LoggerMessage(EventId = 9, Level = LogLevel.Warning, Message = "torn write in {Path}: dropped {TornBytes} bytes from offset {Offset}, written under durability {Mode} and never made durable by an fdatasync (later batches may have been acknowledged without durability)")]
    private static partial void LogUnsyncedTailDropped(ILogger logger, string path, long offset, long tornBytes, DurabilityMode mode);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "torn write at the tail of {Path}: dropped {TornBytes} bytes after offset {Offset} (never acknowledged)")]
    private static partial void LogTornTail(ILogger logger, string path, long offset, long tornBytes);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "segment index {Path} was {Why}: scanned the segment and rebuilt the index")]
    private static partial void LogIndexRebuilt(ILogger logger, string path, string why);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "removed segment {Path}, which lies wholly below the first retained index {FirstIndex} (an interrupted prefix truncation)")]
    private static partial void LogStaleSegmentRemoved(ILogger logger, string path, ulong firstIndex);
}
