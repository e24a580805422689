using System.Diagnostics;

namespace WalrusGossip.Storage;

/// <summary>
/// Segment rolling: a batch is written as one run per segment it touches; a full segment is sealed (synced, its index file
/// (<see cref="SegmentIndexFile"/>) written in the background) and the next one is taken from the preallocated spare, which is prepared again off
/// the write path (<see cref="StorageOptions.PrepareSegmentsInBackground"/>). The writer modes that call into this are in
/// LogStore.Writer.cs.
/// </summary>
public sealed partial class LogStore
{
    private Task? _spareTask;
    private Task? _indexTask;
    private Task? _prefixTask;

    /// <summary>Writes a batch as one run per segment touched, rolling segments as they fill; publishes the new entries.</summary>
    private void WriteBatchToSegments(WriteBatch batch)
    {
        var sync = _options.Durability.Mode == DurabilityMode.Always;
        var record = 0;
        while (record < batch.Count)
        {
            var segment = _segments.Count > 0 ? _segments[^1] : null;
            var room = segment is null || segment.Sealed ? 0 : _options.MaxSegmentBytes - segment.End;
            var end = record;
            while (end < batch.Count && batch.StartOf(end + 1) - batch.StartOf(record) <= room)
            {
                end++;
            }

            if (end == record)
            {
                Roll(segment, batch.FirstIndex + (ulong)record);
                continue;
            }

            var start = batch.StartOf(record);
            var length = batch.StartOf(end) - start;
            RecordHeader.MarkBatchEnd(batch.Buffer.AsSpan(batch.StartOf(end - 1), batch.StartOf(end) - batch.StartOf(end - 1)));
            var data = batch.Buffer.AsSpan(start, length);
            if (sync)
            {
                var started = Stopwatch.GetTimestamp();
                segment!.File.WriteAndSync(segment.End, data);
                _groupCommits.Record(Stopwatch.GetElapsedTime(started));
            }
            else
            {
                segment!.File.Write(segment.End, data);
                segment.File.StartWriteback(segment.End, data.Length);
            }

            _rw.EnterWriteLock();
            try
            {
                var offset = segment.End;
                for (var i = record; i < end; i++)
                {
                    segment.Add(offset + batch.StartOf(i) - start, batch.TermOf(i));
                }

                segment.End = offset + length;
                Volatile.Write(ref _lastIndex, batch.FirstIndex + (ulong)end - 1);
                if (!CompletesOnQueue)
                {
                    Volatile.Write(ref _ackedLast, _lastIndex);
                }
            }
            finally
            {
                _rw.ExitWriteLock();
            }

            record = end;
        }
    }

    /// <summary>Seals the open segment (fdatasync, then its index file) and starts a preallocated one at <paramref name="firstIndex"/>.</summary>
    private void Roll(Segment? current, ulong firstIndex)
    {
        if (current is { Sealed: true })
        {
            current = null; // recovered sealed (see Recover): nothing to seal
        }

        if (current is not null)
        {
            // The sealed segment must be durable before records land in the next one (recovery trusts sealed segments).
            current.File.Sync();
            var index = current.DescribeSealed(_options.IndexIntervalBytes);
            if (_options.InlineWrites && !_options.PrepareSegmentsInBackground)
            {
                WriteSegmentIndex(current, index); // the simulator's single-threaded device
            }
            else
            {
                // Written only after the segment's fdatasync above, so an index on disk never describes records that
                // are not durable; recovery checks it against the file before trusting it and scans without it.
                // Written off the writing thread, since its temp-file write, fsync, rename and directory fsync held up
                // the group commit that rolled the segment (one after each other, so two index writes never race).
                var sealedSegment = current;
                var previous = _indexTask;
                _indexTask = _options.RunInBackground(() =>
                {
                    WaitQuietly(previous);
                    WriteSegmentIndexQuietly(sealedSegment, index);
                });
            }
        }

        var path = PathOf(SegmentNames.Segment(firstIndex));
        var file = _options.InlineWrites && !_options.PrepareSegmentsInBackground ? CreateSegmentFile(path) : TakeSpareSegment(path);
        // Size the offset array for as many records as the previous segment held, so steady state grows nothing.
        var capacity = current is null ? 1024 : current.Count + (current.Count / 8) + 16;
        Segment? uncached = null;
        _rw.EnterWriteLock();
        try
        {
            int[]? reusable = null;
            if (current is not null)
            {
                current.Sealed = true;
                reusable = current.Compact(); // no reader can hold it: they take the read lock
            }

            var segment = new Segment(firstIndex, path, PathOf(SegmentNames.Index(firstIndex)), file, capacity, reusable);
            _segments.Add(segment);
            uncached = _segments.Count > CachedSegments ? _segments[^(CachedSegments + 1)] : null;
        }
        finally
        {
            _rw.ExitWriteLock();
        }

        if (uncached is not null)
        {
            DropFromCache(uncached);
        }
    }

    /// <summary>Drops a sealed segment's pages from the page cache, off the writing thread like the index write (it takes milliseconds for 64 MiB).</summary>
    private void DropFromCache(Segment segment)
    {
        var end = segment.End;
        if (_options.InlineWrites && !_options.PrepareSegmentsInBackground)
        {
            segment.File.DropCache(0, end);
            return;
        }

        // Chained after the index writes, which truncations already wait for, so the file is still open when it runs.
        var previous = _indexTask;
        _indexTask = _options.RunInBackground(() =>
        {
            WaitQuietly(previous);
            segment.File.DropCache(0, end);
        });
    }

    /// <summary>
    /// Segments whose pages the store leaves in the OS page cache: the open one and the one sealed last. When a roll
    /// pushes a segment out of this window (it was fdatasynced when it was sealed, so its pages are clean) it is dropped
    /// from the cache (<see cref="IDeviceFile.DropCache"/>). Page cache pages are then recycled instead of taken from
    /// free memory: on this project's virtual machines a page the guest has not touched recently costs a host fault,
    /// and a buffered write into such pages ran at about 0.5 GB/s against 4-5 GB/s into recycled ones. Reads of older
    /// segments come from the disk.
    /// </summary>
    private const int CachedSegments = 2;

    private static void WaitQuietly(Task? task)
    {
        try
        {
            task?.GetAwaiter().GetResult();
        }
        catch (IOException)
        {
            // A spare segment or segment index that failed is rebuilt later; the failure was already logged or is harmless.
        }
    }

    private void WriteSegmentIndexQuietly(Segment segment, SegmentIndex index)
    {
        try
        {
            WriteSegmentIndex(segment, index);
        }
        catch (IOException e)
        {
            LogIndexWriteFailed(_logger, segment.IndexPath, e.Message);
        }
    }

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "could not write segment index {Path} ({Reason}); the segment is scanned and the index rebuilt on next open")]
    private static partial void LogIndexWriteFailed(ILogger logger, string path, string reason);

    /// <summary>Under <c>always</c>, segments are zero-filled (not just fallocated) so each group commit's fdatasync writes data only.</summary>
    private bool ZeroFill => _options.Durability.Mode == DurabilityMode.Always && !_options.InlineWrites;

    private string SparePath => PathOf(SpareSegmentName);

    private IDeviceFile CreateSegmentFile(string path)
    {
        _device.DeleteFile(path);
        var file = _device.Open(path, DeviceOpenMode.CreateNew);
        try
        {
            file.Allocate(_options.MaxSegmentBytes);
            file.SyncAll();
            _device.SyncDirectory(_directory);
            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>Renames the zero-filled spare (prepared in the background) to <paramref name="path"/> and starts preparing the next spare.</summary>
    private IDeviceFile TakeSpareSegment(string path)
    {
        if (_spareTask is null)
        {
            PrepareSpare();
        }
        else
        {
            _spareTask.GetAwaiter().GetResult();
        }

        _device.DeleteFile(path);
        _device.Rename(SparePath, path);
        _device.SyncDirectory(_directory);
        _spareTask = _options.RunInBackground(PrepareSpare);
        return _device.Open(path, DeviceOpenMode.OpenExisting);
    }

    private void PrepareSpare()
    {
        _device.DeleteFile(SparePath);
        using var file = _device.Open(SparePath, DeviceOpenMode.CreateNew);
        file.Allocate(_options.MaxSegmentBytes, writeZeros: ZeroFill);
        file.SyncAll();
    }
}
