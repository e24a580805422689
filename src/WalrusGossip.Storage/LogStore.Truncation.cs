using Microsoft.Extensions.Logging;

namespace WalrusGossip.Storage;

public sealed partial class LogStore
{
    /// <summary>
    /// Removes every entry at or after <paramref name="fromIndex"/> (a Raft follower discarding a conflicting suffix,
    /// paper §5.3). Waits for in-flight appends, then deletes whole segments from the end and cuts the segment holding
    /// <paramref name="fromIndex"/>; durable before it returns. The next append gets <paramref name="fromIndex"/>.
    /// </summary>
    /// <param name="fromIndex">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/> + 1]; <see cref="LastIndex"/> + 1 is a no-op.</param>
    /// <exception cref="LogIndexOutOfRangeException"><paramref name="fromIndex"/> is below <see cref="FirstIndex"/> or beyond <see cref="LastIndex"/> + 1.</exception>
    /// <exception cref="StorageFailedException">An earlier write failed.</exception>
    /// <exception cref="InvalidOperationException">The segment the cut would reopen holds damaged records before
    /// <paramref name="fromIndex"/> (see <see cref="DamagedRanges"/>); nothing is changed.</exception>
    public void TruncateSuffix(ulong fromIndex)
    {
        Exclusive(() =>
        {
            if (fromIndex < _firstIndex || fromIndex > _lastIndex + 1)
            {
                throw new LogIndexOutOfRangeException(fromIndex, _firstIndex, _lastIndex);
            }

            if (fromIndex == _lastIndex + 1)
            {
                return;
            }

            var keptLast = _segments.FindLast(s => s.FirstIndex < fromIndex);
            if (keptLast is { Sealed: true } && DamageOf(keptLast) is { } damage && damage.FirstIndex < fromIndex)
            {
                // Reopening would forget damage that the cut keeps (the open segment is never scrubbed). Raft never
                // asks for this (a damaged follower defers such a cut until repaired: RaftLog.WouldTruncateAbove).
                throw new InvalidOperationException(
                    $"cannot truncate from {fromIndex}: damaged indexes {damage.FirstIndex}..{damage.LastIndex} of {keptLast.Path} lie before the cut; repair them first");
            }

            var deleted = false;
            while (_segments.Count > 0 && _segments[^1].FirstIndex >= fromIndex)
            {
                var last = _segments[^1];
                last.Dispose();
                DeleteSegmentFiles(last.FirstIndex);
                _segments.RemoveAt(_segments.Count - 1);
                deleted = true;
            }

            if (deleted)
            {
                _device.SyncDirectory(_directory);
            }

            // The segment left last becomes the open one again: cut inside it, or (when the cut fell exactly on a
            // segment boundary) a sealed, compacted segment that the next append writes into, so it needs its exact
            // offsets back and loses its index file either way (found by walrus-sim seeds 103, 125, 165, 166).
            if (_segments.Count > 0 && (_segments[^1].LastIndex >= fromIndex || _segments[^1].Sealed))
            {
                var segment = _segments[^1];
                segment.Expand(_options.MaxEntryBytes + RecordHeader.Size, fromIndex);
                if (segment.LastIndex >= fromIndex)
                {
                    var cut = segment.OffsetOf(fromIndex);
                    segment.ForgetFrom(fromIndex);
                    ZeroFrom(segment, cut);
                }

                if (segment.Sealed)
                {
                    segment.Sealed = false;
                    _device.DeleteFile(segment.IndexPath);
                }
            }

            _lastIndex = fromIndex - 1;
            _ackedLast = _lastIndex;
            _nextIndex = fromIndex;
            ForgetDamageOutside();
        });
    }

    /// <summary>
    /// Makes <paramref name="beforeIndex"/> the first retained index (retention, or compaction after a checkpoint,
    /// paper §7): entries below it become unreadable at once and whole segments below it are deleted. When
    /// <paramref name="beforeIndex"/> is past <see cref="LastIndex"/> + 1 the log is emptied and the next append gets
    /// <paramref name="beforeIndex"/> (a follower installing a snapshot); that reset is durable before it returns.
    /// </summary>
    /// <remarks>
    /// Retention (no reset) pauses appends and readers only to detach the segments in memory; the durable part (the
    /// first-index file, then unlinking the segment files and syncing the directory) runs through
    /// <see cref="StorageOptions.RunInBackground"/>, in that order, so a crash in between leaves either the old first
    /// index with every file (the log simply starts earlier) or the new one with files below it, which the next open
    /// removes. If the first-index file cannot be written, no segment file is deleted.
    /// </remarks>
    /// <param name="beforeIndex">Any index; values at or below <see cref="FirstIndex"/> are a no-op.</param>
    /// <exception cref="StorageFailedException">An earlier write failed.</exception>
    public void TruncatePrefix(ulong beforeIndex)
    {
        WaitQuietly(_prefixTask); // first-index files land in order
        List<Segment>? detached = null;
        Exclusive(() =>
        {
            if (beforeIndex <= _firstIndex)
            {
                return;
            }

            var reset = beforeIndex > _lastIndex + 1;
            var removed = 0;
            while (removed < _segments.Count &&
                (reset || _segments[removed].LastIndex < beforeIndex) &&
                (reset || removed < _segments.Count - 1 || _segments[removed].LastIndex + 1 < beforeIndex))
            {
                removed++;
            }

            if (reset)
            {
                WriteFirstIndexFile(beforeIndex);
                for (var i = 0; i < removed; i++)
                {
                    _segments[i].Dispose();
                    DeleteSegmentFiles(_segments[i].FirstIndex);
                }

                _segments.RemoveRange(0, removed);
                ForgetDamageOutside();
                if (removed > 0)
                {
                    _device.SyncDirectory(_directory);
                }

                _firstIndex = beforeIndex;
                _lastIndex = beforeIndex - 1;
                _ackedLast = _lastIndex;
                _nextIndex = beforeIndex;
                return;
            }

            detached = _segments.GetRange(0, removed);
            _segments.RemoveRange(0, removed);
            ForgetDamageOutside(beforeIndex);
            _firstIndex = beforeIndex;
        });

        if (detached is { } gone)
        {
            _prefixTask = _options.RunInBackground(() => RemovePrefixFiles(beforeIndex, gone));
        }
    }

    /// <summary>The durable half of a retention step: the new first index, then the segment files wholly below it, each shortened gradually before it is unlinked.</summary>
    private void RemovePrefixFiles(ulong firstIndex, List<Segment> segments)
    {
        try
        {
            WriteFirstIndexFile(firstIndex);
        }
        catch (IOException e)
        {
            LogPrefixNotDurable(_logger, firstIndex, e.Message);
            foreach (var segment in segments)
            {
                segment.Dispose();
            }

            return; // the files stay; the next open finds the old first index and serves from it
        }

        foreach (var segment in segments)
        {
            ShrinkGradually(segment);
            segment.Dispose();
            DeleteSegmentFiles(segment.FirstIndex);
        }

        if (segments.Count > 0)
        {
            _device.SyncDirectory(_directory);
        }
    }

    /// <summary>Bytes a segment file is shortened by per step before it is unlinked.</summary>
    private const long ShrinkStepBytes = 4L << 20;

    /// <summary>
    /// Shortens a segment file that is about to be deleted in <see cref="ShrinkStepBytes"/> steps, so the file system
    /// frees its blocks in many small journal transactions instead of one large one in <c>unlink</c>, which would make
    /// every concurrent group commit's fdatasync wait (measured: p99.9 of appends 3-4x worse with one-shot deletion).
    /// </summary>
    private void ShrinkGradually(Segment segment)
    {
        var length = Math.Max(segment.End, _options.MaxSegmentBytes);
        while (length > ShrinkStepBytes)
        {
            length -= ShrinkStepBytes;
            segment.File.SetLength(length);
        }
    }

    [LoggerMessage(EventId = 16, Level = LogLevel.Warning, Message = "could not record first index {FirstIndex} ({Reason}); no segment was deleted, the next open serves from the previous first index")]
    private static partial void LogPrefixNotDurable(ILogger logger, ulong firstIndex, string reason);

    /// <summary>Runs <paramref name="action"/> with appends paused and drained, under the segment write lock.</summary>
    private void Exclusive(Action action)
    {
        lock (_gate)
        {
            ThrowIfFailedOrClosed();
            _truncating = true;
            try
            {
                DrainLocked();
                WaitQuietly(_indexTask); // a sealed segment's index written in the background must not land after its segment is deleted
                _rw.EnterWriteLock();
                try
                {
                    action();
                }
                finally
                {
                    _rw.ExitWriteLock();
                }
            }
            finally
            {
                _truncating = false;
                Monitor.PulseAll(_gate);
            }
        }
    }
}
