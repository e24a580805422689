using System.Net;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport;

/// <summary>
/// Frames over one authenticated byte stream (an <see cref="System.Net.Security.SslStream"/> or a QUIC stream).
/// Both transports use this class, so framing behaves identically on each.
/// </summary>
internal sealed class StreamFrameConnection : IFrameConnection
{
    private readonly Stream _stream;
    private readonly ReadAheadStream _receive;
    private readonly int _maxFrameBytes;
    private readonly TransportCounters _counters;
    private readonly Func<ValueTask> _completeWrites;
    private readonly Func<ValueTask> _closeTransport;
    /// <summary>Bytes queued behind a write in progress before senders wait (back-pressure).</summary>
    private const int MaxQueuedBytes = 8 << 20;

    /// <summary>Receive read-ahead: one TLS record's worth (16 KiB), so small frames cost no read of their own.</summary>
    private const int ReadAheadBytes = 16 << 10;

    /// <summary>Size of the buffer that frames are gathered into for one write.</summary>
    private const int CoalesceBytes = 256 << 10;

    private readonly object _gate = new();
    private List<QueuedFrame> _queue = [];
    private int _queuedBytes;
    private bool _writerActive;
    private TaskCompletionSource? _space;
    private TaskCompletionSource? _idle;
    private Exception? _writeFault;
    private byte[]? _coalesce;
    private readonly byte[] _headerScratch = new byte[FrameHeader.Size];
    private ProtocolException? _receiveFault;
    private bool _receiveCancelled;
    private int _receiving;
    private int _disposed;

    /// <summary>Wraps an authenticated stream.</summary>
    /// <param name="stream">The stream; owned and disposed by this connection.</param>
    /// <param name="remoteEndPoint">The other side's address.</param>
    /// <param name="remoteCertificate">The other side's certificate, if any.</param>
    /// <param name="maxFrameBytes">Largest frame sent or accepted.</param>
    /// <param name="counters">Where frames and protocol errors are counted.</param>
    /// <param name="completeWrites">Ends the sending direction cleanly (TLS close_notify or QUIC FIN).</param>
    /// <param name="closeTransport">Releases what lies under the stream (socket or QUIC connection), after the stream.</param>
    public StreamFrameConnection(
        Stream stream,
        EndPoint remoteEndPoint,
        X509Certificate2? remoteCertificate,
        int maxFrameBytes,
        TransportCounters counters,
        Func<ValueTask> completeWrites,
        Func<ValueTask> closeTransport)
    {
        _stream = stream;
        _receive = new ReadAheadStream(stream, ReadAheadBytes);
        RemoteEndPoint = remoteEndPoint;
        RemoteCertificate = remoteCertificate;
        _maxFrameBytes = maxFrameBytes;
        _counters = counters;
        _completeWrites = completeWrites;
        _closeTransport = closeTransport;
    }

    public EndPoint RemoteEndPoint { get; }

    public X509Certificate2? RemoteCertificate { get; }

    public async ValueTask SendAsync(MessageType type, IMessage message, CancellationToken cancellationToken)
    {
        var frame = FrameCodec.EncodePooled(type, message, _maxFrameBytes);
        var length = frame.Length;
        await EnqueueAsync(new QueuedFrame(frame.Memory, frame), cancellationToken).ConfigureAwait(false);
        _counters.FrameSent(length);
    }

    public bool Post(MessageType type, IMessage message)
    {
        var frame = FrameCodec.EncodePooled(type, message, _maxFrameBytes);
        var length = frame.Length;
        bool startWriter;
        lock (_gate)
        {
            if (!TryQueueLocked(new QueuedFrame(frame.Memory, frame), out startWriter))
            {
                return false;
            }
        }

        if (startWriter)
        {
            ThreadPool.UnsafeQueueUserWorkItem(static self => _ = self.WriteRoundsAsync(firstRoundOnly: false, CancellationToken.None), this, preferLocal: false);
        }

        _counters.FrameSent(length);
        return true;
    }

    public async ValueTask<(MessageType Type, IMessage Message)?> ReceiveAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (_receiveFault is { } fault)
        {
            throw new ProtocolException(fault.Kind, $"connection already failed: {fault.Message}", fault) { Counted = true };
        }

        if (_receiveCancelled)
        {
            throw new InvalidOperationException("A cancelled receive left the connection inside a frame; close it.");
        }

        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("ReceiveAsync called concurrently on one connection.");
        }

        try
        {
            var frame = await FrameCodec.ReadFrameAsync(_receive, _headerScratch, _maxFrameBytes, cancellationToken).ConfigureAwait(false);
            if (frame is not { } f)
            {
                return null;
            }

            _counters.FrameReceived(f.WireBytes);
            return (f.Type, f.Message);
        }
        catch (ProtocolException ex)
        {
            _receiveFault = ex;
            if (!ex.Counted)
            {
                ex.Counted = true;
                _counters.RecordProtocolError(ex.Kind);
            }

            throw;
        }
        catch (OperationCanceledException)
        {
            _receiveCancelled = true;
            throw;
        }
        finally
        {
            Volatile.Write(ref _receiving, 0);
        }
    }

    /// <summary>Writes bytes as they are, in order with frames. Tests use it to send malformed frames.</summary>
    /// <param name="bytes">Bytes to write; copied.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write aborts the connection.</param>
    /// <returns>A task that completes when the bytes are written or queued behind a write in progress.</returns>
    internal ValueTask SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken) =>
        EnqueueAsync(new QueuedFrame(bytes.ToArray(), null), cancellationToken);

    /// <summary>Ends the sending direction after every queued frame: the other side reads end of stream. Tests use it to truncate frames.</summary>
    /// <returns>A task that completes when the end has been sent.</returns>
    internal async ValueTask CompleteWritesAsync()
    {
        while (true)
        {
            Task idle;
            lock (_gate)
            {
                if (!_writerActive)
                {
                    _writerActive = true;
                    break;
                }

                _idle ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                idle = _idle.Task;
            }

            await idle.ConfigureAwait(false);
        }

        try
        {
            await _completeWrites().ConfigureAwait(false);
        }
        finally
        {
            lock (_gate)
            {
                _writerActive = false;
            }
        }
    }

    /// <summary>
    /// Queues a frame for writing. Frames are written in queue order by one writer at a time, and every frame queued
    /// while a write is in progress goes out in the next write as one buffer (one TLS record run, one syscall) instead of
    /// one write and flush per frame. The caller that finds no write in progress becomes the writer for one round; if
    /// more frames queued meanwhile, a background task continues, so no caller writes for others indefinitely.
    /// Callers wait only while <see cref="MaxQueuedBytes"/> are already queued (back-pressure).
    /// </summary>
    private async ValueTask EnqueueAsync(QueuedFrame frame, CancellationToken cancellationToken)
    {
        Task space;
        lock (_gate)
        {
            // Frames always join the queue in call order; a caller that finds the queue over its limit waits until
            // the writer has taken it, so each waiting caller holds at most its own frame beyond the limit.
            if (!TryQueueLocked(frame, out var becameWriter))
            {
                ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
                throw new IOException("an earlier write on this connection failed", _writeFault);
            }

            if (becameWriter)
            {
                space = Task.CompletedTask;
            }
            else if (_queuedBytes <= MaxQueuedBytes)
            {
                return;
            }
            else
            {
                _space ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                space = _space.Task;
            }
        }

        if (!space.IsCompleted)
        {
            await space.WaitAsync(cancellationToken).ConfigureAwait(false);
            return;
        }

        await WriteRoundsAsync(firstRoundOnly: true, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Under <c>_gate</c>: queues <paramref name="frame"/> unless the connection is closed or a write failed (then
    /// its buffer is returned), and claims the writer role when no write is in progress.
    /// </summary>
    private bool TryQueueLocked(QueuedFrame frame, out bool becameWriter)
    {
        becameWriter = false;
        if (Volatile.Read(ref _disposed) != 0 || _writeFault is not null)
        {
            frame.Owner?.Dispose();
            return false;
        }

        _queue.Add(frame);
        _queuedBytes += frame.Bytes.Length;
        becameWriter = !_writerActive;
        _writerActive = true;
        return true;
    }

    /// <summary>The writer: takes everything queued, writes it, repeats. Called only by the one caller that set <c>_writerActive</c>.</summary>
    private async Task WriteRoundsAsync(bool firstRoundOnly, CancellationToken cancellationToken)
    {
        var batch = new List<QueuedFrame>();
        var wrote = false;
        try
        {
            while (true)
            {
                lock (_gate)
                {
                    if (_queue.Count == 0)
                    {
                        StopWriting();
                        return;
                    }

                    if (firstRoundOnly && wrote)
                    {
                        // Our own frame is out; hand the rest to a background writer.
                        _ = Task.Run(() => WriteRoundsAsync(firstRoundOnly: false, CancellationToken.None), CancellationToken.None);
                        return;
                    }

                    (batch, _queue) = (_queue, batch);
                    _queue.Clear();
                    _queuedBytes = 0;
                    _space?.TrySetResult();
                    _space = null;
                }

                await WriteBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                wrote = true;
            }
        }
        catch (Exception e)
        {
            List<QueuedFrame> abandoned;
            lock (_gate)
            {
                _writeFault = e;
                abandoned = [.. _queue];
                _queue.Clear();
                StopWriting();
            }

            foreach (var f in abandoned)
            {
                f.Owner?.Dispose();
            }

            // Part of a frame may be on the wire: nothing sent after it could be parsed, so abort the connection.
            _ = Task.Run(async () => await DisposeAsync().ConfigureAwait(false), CancellationToken.None);
            if (!firstRoundOnly)
            {
                return;
            }

            throw;
        }
    }

    private void StopWriting()
    {
        _writerActive = false;
        _space?.TrySetResult();
        _space = null;
        _idle?.TrySetResult();
        _idle = null;
    }

    private async Task WriteBatchAsync(List<QueuedFrame> batch, CancellationToken cancellationToken)
    {
        try
        {
            if (batch.Count == 1)
            {
                await _stream.WriteAsync(batch[0].Bytes, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                _coalesce ??= new byte[CoalesceBytes];
                var used = 0;
                foreach (var frame in batch)
                {
                    var bytes = frame.Bytes;
                    if (used > 0 && used + bytes.Length > _coalesce.Length)
                    {
                        await _stream.WriteAsync(_coalesce.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                        used = 0;
                    }

                    if (bytes.Length > _coalesce.Length)
                    {
                        await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
                        continue;
                    }

                    bytes.Span.CopyTo(_coalesce.AsSpan(used));
                    used += bytes.Length;
                }

                if (used > 0)
                {
                    await _stream.WriteAsync(_coalesce.AsMemory(0, used), cancellationToken).ConfigureAwait(false);
                }
            }

            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var frame in batch)
            {
                frame.Owner?.Dispose();
            }

            batch.Clear();
        }
    }

    /// <summary>A frame waiting to be written, with the pooled buffer to return afterwards.</summary>
    private readonly record struct QueuedFrame(ReadOnlyMemory<byte> Bytes, PooledFrame? Owner);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // Already broken; closing is all that is left to do.
        }
        finally
        {
            await _closeTransport().ConfigureAwait(false);
        }
    }
}
