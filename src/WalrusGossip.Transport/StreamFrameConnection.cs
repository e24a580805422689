using System.Net;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport;

/// <summary>
/// Frames over one authenticated byte stream (an <see cref="System.Net.Security.SslStream"/> or a QUIC stream).
/// Both transports use this class, so framing behaves identically on each.
/// </summary>
internal sealed class StreamFrameConnection : IFrameConnection
{
    private readonly Stream _stream;
    private readonly int _maxFrameBytes;
    private readonly TransportCounters _counters;
    private readonly Func<ValueTask> _completeWrites;
    private readonly Func<ValueTask> _closeTransport;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
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
        using var frame = FrameCodec.EncodePooled(type, message, _maxFrameBytes);
        await SendRawAsync(frame.Memory, cancellationToken).ConfigureAwait(false);
        _counters.FrameSent(frame.Length);
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
            var frame = await FrameCodec.ReadFrameAsync(_stream, _headerScratch, _maxFrameBytes, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Writes bytes as they are, under the send lock. Tests use it to send malformed frames.</summary>
    /// <param name="bytes">Bytes to write.</param>
    /// <param name="cancellationToken">Cancels the write; a cancelled write aborts the connection.</param>
    /// <returns>A task that completes when the bytes are flushed.</returns>
    internal async ValueTask SendRawAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            await _stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
            await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The stream may hold part of a frame: nothing sent after it could be parsed, so abort.
            _ = Task.Run(async () => await DisposeAsync().ConfigureAwait(false), CancellationToken.None);
            throw;
        }
        finally
        {
            _sendLock.Release();
        }
    }

    /// <summary>Ends the sending direction: the other side reads end of stream. Tests use it to truncate frames.</summary>
    /// <returns>A task that completes when the end has been sent.</returns>
    internal async ValueTask CompleteWritesAsync()
    {
        await _sendLock.WaitAsync().ConfigureAwait(false);
        try
        {
            await _completeWrites().ConfigureAwait(false);
        }
        finally
        {
            _sendLock.Release();
        }
    }

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
