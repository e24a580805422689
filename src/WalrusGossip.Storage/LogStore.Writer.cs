using System.Diagnostics;
using System.Runtime.InteropServices;

namespace WalrusGossip.Storage;

/// <summary>
/// The append path and its writer modes: appends fill a <see cref="WriteBatch"/> under the gate; the batch is written
/// either inline by the appending thread (<see cref="StorageOptions.InlineWrites"/>, the node's mode) or by the writer
/// thread, and made durable by the durability policy (one fdatasync per group commit under <c>always</c>). Segment
/// rolling is in LogStore.Segments.cs.
/// </summary>
public sealed partial class LogStore
{
    private readonly object _gate = new();
    private WriteBatch _filling;
    private WriteBatch? _spare;
    private ulong _nextIndex;
    private Thread? _writer;
    private bool _stopping;
    private bool _writerBusy;
    private bool _writerWaiting;   // the writer thread is inside Monitor.Wait on the gate: only then does an append wake it
    private bool _writeRequested;  // someone waits for the filling batch to be written: the writer must not linger
    private bool _truncating;
    private Exception? _failure;
    private long _lastSyncTimestamp;
    private readonly GroupCommitHistogram _groupCommits = new();

    /// <summary>Group commits made durable so far (each one write + fdatasync under <c>always</c>), by duration: count, total time and the flush-latency tail.</summary>
    public GroupCommitHistogram GroupCommitLatency => _groupCommits;

    /// <summary>
    /// Appends one entry at the next index. Completes, with that index, when the entry is durable under the
    /// durability policy (group commit under <c>always</c>).
    /// </summary>
    /// <param name="payload">At most <see cref="StorageOptions.MaxEntryBytes"/> bytes; copied before the call returns.</param>
    /// <param name="term">Raft term to record.</param>
    /// <param name="type">Entry type.</param>
    /// <param name="flags">Flags byte, stored unchanged.</param>
    /// <param name="cancellationToken">Cancels only the wait for batch space; an entry already queued is written.</param>
    /// <returns>The index assigned to the entry.</returns>
    /// <exception cref="EntryTooLargeException">The payload exceeds the limit; nothing is written.</exception>
    /// <exception cref="StorageFailedException">An earlier write or fdatasync failed.</exception>
    public ValueTask<ulong> AppendAsync(ReadOnlyMemory<byte> payload, ulong term = 0, EntryType type = EntryType.Normal, byte flags = 0, CancellationToken cancellationToken = default)
    {
        CheckPayload(payload.Length);
        if (CompletesOnQueue)
        {
            lock (_gate)
            {
                WaitForRoom(RecordHeader.Size + payload.Length, cancellationToken);
                var queued = _nextIndex++;
                _filling.Add(queued, term, type, flags, payload.Span);
                Volatile.Write(ref _ackedLast, queued);
                WakeWriterForQueued();
                return new ValueTask<ulong>(queued);
            }
        }

        var waiter = AppendWaiter.Rent();
        lock (_gate)
        {
            var recordBytes = RecordHeader.Size + payload.Length;
            WaitForRoom(recordBytes, cancellationToken);
            var index = _nextIndex++;
            _filling.Add(index, term, type, flags, payload.Span);
            _filling.AddWaiter(waiter, index);
            Monitor.PulseAll(_gate);
        }

        if (_options.InlineWrites)
        {
            WriteInline();
        }

        return waiter.Task;
    }

    /// <summary>
    /// Appends entries whose indexes the caller chose (Raft followers and leaders): they must be consecutive and the
    /// first must be <see cref="LastIndex"/> + 1 counting appends still in flight. Completes when all are durable under
    /// the policy; they are written in one group commit when they fit in one batch.
    /// </summary>
    /// <param name="entries">One or more entries; payloads are copied before the call returns.</param>
    /// <param name="cancellationToken">Cancels only the wait for batch space.</param>
    /// <returns>The index of the last entry.</returns>
    /// <exception cref="ArgumentException">Empty list or indexes not consecutive from the next index; nothing is written.</exception>
    /// <exception cref="EntryTooLargeException">A payload exceeds the limit; nothing is written.</exception>
    /// <exception cref="StorageFailedException">An earlier write or fdatasync failed.</exception>
    public ValueTask<ulong> AppendBatchAsync(IReadOnlyList<LogEntry> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entries);
        return entries switch
        {
            LogEntry[] array => AppendBatchAsync(array.AsSpan(), cancellationToken),
            List<LogEntry> list => AppendBatchAsync(CollectionsMarshal.AsSpan(list), cancellationToken),
            _ => AppendBatchAsync([.. entries], cancellationToken),
        };
    }

    /// <summary>
    /// <see cref="AppendBatchAsync(IReadOnlyList{LogEntry}, CancellationToken)"/> from a span, such as a Raft Ready's
    /// entries: the entries are encoded into the filling batch before the call returns, so the span may be reused as soon
    /// as it does.
    /// </summary>
    /// <param name="entries">One or more entries; payloads are copied before the call returns.</param>
    /// <param name="cancellationToken">Cancels only the wait for batch space.</param>
    /// <returns>The index of the last entry.</returns>
    /// <exception cref="ArgumentException">Empty span or indexes not consecutive from the next index; nothing is written.</exception>
    /// <exception cref="EntryTooLargeException">A payload exceeds the limit; nothing is written.</exception>
    /// <exception cref="StorageFailedException">An earlier write or fdatasync failed.</exception>
    public ValueTask<ulong> AppendBatchAsync(ReadOnlySpan<LogEntry> entries, CancellationToken cancellationToken = default)
    {
        if (entries.Length == 0)
        {
            throw new ArgumentException("at least one entry is required", nameof(entries));
        }

        for (var i = 0; i < entries.Length; i++)
        {
            CheckPayload(entries[i].Payload.Length);
        }

        AppendWaiter waiter;
        lock (_gate)
        {
            if (entries[0].Index != _nextIndex)
            {
                throw new ArgumentException($"first entry has index {entries[0].Index}; the next index is {_nextIndex}", nameof(entries));
            }

            for (var i = 1; i < entries.Length; i++)
            {
                if (entries[i].Index != entries[0].Index + (ulong)i)
                {
                    throw new ArgumentException($"entry {i} has index {entries[i].Index}; indexes must be consecutive", nameof(entries));
                }
            }

            for (var i = 0; i < entries.Length; i++)
            {
                ref readonly var e = ref entries[i];
                WaitForRoom(RecordHeader.Size + e.Payload.Length, cancellationToken);
                _filling.Add(_nextIndex++, e.Term, e.Type, e.Flags, e.Payload.Span);
            }

            if (CompletesOnQueue)
            {
                Volatile.Write(ref _ackedLast, _nextIndex - 1);
                WakeWriterForQueued();
                return new ValueTask<ulong>(_nextIndex - 1);
            }

            waiter = AppendWaiter.Rent();
            _filling.AddWaiter(waiter, _nextIndex - 1);
            Monitor.PulseAll(_gate);
        }

        if (_options.InlineWrites)
        {
            WriteInline();
        }

        return waiter.Task;
    }

    /// <summary>
    /// Shrinks the group-commit buffers, which grow with the largest batch written (up to Storage:MaxBatchBytes each),
    /// back to their initial size when no batch is queued or being written. For an agent whose load has stopped;
    /// they grow again on demand.
    /// </summary>
    public void ReleaseMemory()
    {
        lock (_gate)
        {
            if (_writerBusy || _filling.Count > 0)
            {
                return;
            }

            _filling.ReleaseMemory();
            _spare?.ReleaseMemory();
        }
    }

    /// <summary>Waits until everything appended so far is written and durable (fdatasync), whatever the policy.</summary>
    /// <exception cref="StorageFailedException">An earlier write or fdatasync failed.</exception>
    public void Flush()
    {
        lock (_gate)
        {
            DrainLocked();
        }

        _rw.EnterReadLock();
        try
        {
            if (_segments.Count > 0)
            {
                _segments[^1].File.Sync();
            }
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }

    /// <summary>Under <c>none</c> and <c>interval</c> (writer thread mode) an append completes as soon as it is queued: no durability is promised, so nothing is gained by waiting for the write.</summary>
    private bool CompletesOnQueue => _options.Durability.Mode != DurabilityMode.Always && !_options.InlineWrites;

    /// <summary>
    /// Under <c>none</c> and <c>interval</c> the writer waits for the filling batch to hold this many bytes (or for
    /// <see cref="LingerTime"/>) before it writes it, so a fast appender costs one write and one wake-up per this many
    /// bytes instead of one per record: 512 KiB, or half the batch limit if that is smaller.
    /// </summary>
    private int LingerBytes => Math.Min(512 << 10, _options.MaxBatchBytes / 2);

    /// <summary>Longest a queued record waits for its batch to fill (<see cref="LingerBytes"/>) under <c>none</c> and <c>interval</c>: 1 ms.</summary>
    private static readonly TimeSpan LingerTime = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Called under <see cref="_gate"/> after an append that completes on queue: wakes the writer only when it waits and
    /// either the batch just became non-empty (the writer starts its linger) or it reached <see cref="LingerBytes"/>.
    /// An append while the writer is busy writing costs no wake-up: the writer takes the batch when it is done.
    /// </summary>
    private void WakeWriterForQueued()
    {
        if (_writerWaiting && (_filling.Count == 1 || _filling.Length >= LingerBytes))
        {
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Called under <see cref="_gate"/> by a thread about to wait for the filling batch to be written: the writer stops lingering and writes it now.</summary>
    private void RequestWriteLocked()
    {
        if (!_writeRequested)
        {
            _writeRequested = true;
            if (_writerWaiting)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits until <paramref name="index"/>, if already acknowledged, has been written to its segment.</summary>
    private void EnsureWritten(ulong index)
    {
        if (index <= Volatile.Read(ref _lastIndex) || index > Volatile.Read(ref _ackedLast))
        {
            return;
        }

        lock (_gate)
        {
            while (index > Volatile.Read(ref _lastIndex) && index <= _ackedLast && _failure is null && (_filling.Count > 0 || _writerBusy))
            {
                RequestWriteLocked();
                Monitor.Wait(_gate, 10);
            }
        }
    }

    private void CheckPayload(int length)
    {
        if (length > _options.MaxEntryBytes)
        {
            throw new EntryTooLargeException(length, _options.MaxEntryBytes);
        }
    }

    /// <summary>Called under <see cref="_gate"/>: blocks the appender while the filling batch is full (back-pressure) or a truncation runs.</summary>
    private void WaitForRoom(int recordBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            ThrowIfFailedOrClosed();
            if (!_truncating && _filling.HasRoomFor(recordBytes))
            {
                return;
            }

            if (_options.InlineWrites && !_truncating && !_writerBusy && _filling.Count > 0)
            {
                // No writer thread will drain the batch: write the full part now, on the appending thread, and go on.
                // (An append larger than one batch, such as a follower catching up, is then made durable in pieces.)
                var full = _filling;
                _filling = _spare!;
                _spare = null;
                _writerBusy = true;
                WriteOne(full, _options.Durability);
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            RequestWriteLocked();
            Monitor.Wait(_gate, 10);
        }
    }

    private void ThrowIfFailedOrClosed()
    {
        if (_failure is not null)
        {
            throw new StorageFailedException("the log store stopped after a write failure; reopen it to recover", _failure);
        }

        ObjectDisposedException.ThrowIf(_stopping, this);
    }

    /// <summary>Called under <see cref="_gate"/>: waits until no batch is queued or being written.</summary>
    private void DrainLocked()
    {
        while (_filling.Count > 0 || _writerBusy)
        {
            if (_failure is not null)
            {
                break;
            }

            RequestWriteLocked();
            Monitor.Wait(_gate, 10);
        }

        if (_failure is not null)
        {
            throw new StorageFailedException("the log store stopped after a write failure; reopen it to recover", _failure);
        }
    }

    private void StartWriter()
    {
        if (_options.InlineWrites)
        {
            if (_options.PrepareSegmentsInBackground)
            {
                _spareTask = _options.RunInBackground(PrepareSpare);
            }

            return;
        }

        _spareTask = _options.RunInBackground(PrepareSpare);

        _lastSyncTimestamp = Stopwatch.GetTimestamp();
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "walrus-log-writer" };
        _writer.Start();
    }

    private void StopWriter()
    {
        lock (_gate)
        {
            if (_writer is null)
            {
                WaitQuietly(_spareTask);
                WaitQuietly(_indexTask);
                WaitQuietly(_prefixTask);
                return;
            }

            while (_filling.Count > 0 || _writerBusy)
            {
                if (_failure is not null)
                {
                    break;
                }

                RequestWriteLocked();
                Monitor.Wait(_gate, 10);
            }

            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        _writer.Join();
        _writer = null;
        try
        {
            _spareTask?.GetAwaiter().GetResult();
            _indexTask?.GetAwaiter().GetResult();
            _prefixTask?.GetAwaiter().GetResult();
        }
        catch (IOException)
        {
        }
    }

    private void WriterLoop()
    {
        var policy = _options.Durability;
        while (true)
        {
            WriteBatch? batch = null;
            var syncDue = false;
            lock (_gate)
            {
                while (_filling.Count == 0 && !_stopping)
                {
                    if (policy.Mode == DurabilityMode.Interval && SyncDue(policy))
                    {
                        syncDue = true;
                        break;
                    }

                    WaitAsWriter(policy.Mode == DurabilityMode.Interval ? Math.Max(1, (int)policy.Interval.TotalMilliseconds) : 100);
                }

                if (_stopping && _filling.Count == 0)
                {
                    return;
                }

                if (policy.Mode != DurabilityMode.Always && !syncDue)
                {
                    LingerLocked();
                }

                // Decided under the gate: when the filling batch is empty (an interval sync is due), appenders may add
                // to it as soon as the gate is released, so it stays theirs and is not written from here.
                if (_filling.Count > 0)
                {
                    batch = _filling;
                    _filling = _spare!;
                    _spare = null;
                    _writerBusy = true;
                    _writeRequested = false;
                    Monitor.PulseAll(_gate);
                }
            }

            if (batch is null)
            {
                if (syncDue)
                {
                    TrySync();
                }

                continue;
            }

            WriteOne(batch, policy);
        }
    }

    /// <summary>Called under <see cref="_gate"/> by the writer thread: waits for a pulse or the timeout, marked as waiting so appenders know to wake it.</summary>
    private void WaitAsWriter(int timeoutMs)
    {
        _writerWaiting = true;
        Monitor.Wait(_gate, timeoutMs);
        _writerWaiting = false;
    }

    /// <summary>
    /// Called under <see cref="_gate"/> by the writer thread with a non-empty batch under <c>none</c> or <c>interval</c>:
    /// waits until the batch holds <see cref="LingerBytes"/>, <see cref="LingerTime"/> has passed, someone waits for the
    /// write (<see cref="RequestWriteLocked"/>), or the store stops, whichever comes first.
    /// </summary>
    private void LingerLocked()
    {
        var started = Stopwatch.GetTimestamp();
        while (!_stopping && !_writeRequested && _filling.Length < LingerBytes)
        {
            var left = LingerTime - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return;
            }

            WaitAsWriter(Math.Max(1, (int)Math.Ceiling(left.TotalMilliseconds)));
        }
    }

    /// <summary>Inline mode: the appending thread writes the pending batch itself before its append returns.</summary>
    private void WriteInline()
    {
        while (true)
        {
            WriteBatch batch;
            lock (_gate)
            {
                while (_writerBusy)
                {
                    Monitor.Wait(_gate);
                }

                batch = _filling;
                if (batch.Count == 0)
                {
                    return;
                }

                _filling = _spare!;
                _spare = null;
                _writerBusy = true;
            }

            WriteOne(batch, _options.Durability);
        }
    }

    private void WriteOne(WriteBatch batch, DurabilityPolicy policy)
    {
        Exception? unexpected = null;
        try
        {
            WriteBatchToSegments(batch);
            if (policy.Mode == DurabilityMode.Interval && SyncDue(policy))
            {
                _segments[^1].File.Sync();
                _lastSyncTimestamp = Stopwatch.GetTimestamp();
            }

            batch.CompleteAll();
        }
        catch (Exception e)
        {
            // Any failure stops the store: the batch's appenders and those waiting behind it get
            // StorageFailedException instead of waiting forever on a writer that gave up. An I/O error is the store's
            // to report; anything else (a bug, or the simulator's crash) is rethrown below once the waiters are released.
            LogWriteFailed(_logger, e);
            lock (_gate)
            {
                _failure = e;
                var failure = new StorageFailedException("append failed: " + e.Message, e);
                batch.FailAll(failure);
                _filling.FailAll(failure);
                _filling.Clear();
            }

            if (e is not (IOException or UnauthorizedAccessException or StorageException))
            {
                unexpected = e;
            }
        }

        lock (_gate)
        {
            batch.Clear();
            _spare = batch;
            _writerBusy = false;
            Monitor.PulseAll(_gate);
        }

        if (unexpected is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(unexpected);
        }
    }

    private bool SyncDue(DurabilityPolicy policy) =>
        Stopwatch.GetElapsedTime(_lastSyncTimestamp) >= policy.Interval;

    private void TrySync()
    {
        try
        {
            _rw.EnterReadLock();
            try
            {
                if (_segments.Count > 0)
                {
                    _segments[^1].File.Sync();
                }
            }
            finally
            {
                _rw.ExitReadLock();
            }

            _lastSyncTimestamp = Stopwatch.GetTimestamp();
        }
        catch (IOException e)
        {
            LogWriteFailed(_logger, e);
            lock (_gate)
            {
                _failure = e;
            }
        }
    }

    [LoggerMessage(EventId = 13, Level = LogLevel.Critical, Message = "log write failed; the store stops accepting appends")]
    private static partial void LogWriteFailed(ILogger logger, Exception error);
}
