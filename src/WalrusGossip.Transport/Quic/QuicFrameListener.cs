using System.Net;
using System.Net.Quic;
using System.Runtime.Versioning;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace WalrusGossip.Transport.Quic;

/// <summary>
/// Accepts QUIC connections in the background (the QUIC listener runs the TLS handshakes) and hands out each one
/// whose handshake succeeded; its single bidirectional stream is accepted on first use (<see cref="DeferredQuicStream"/>).
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed partial class QuicFrameListener : IFrameListener
{
    private readonly QuicListener _listener;
    private readonly TransportOptions _options;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly Channel<IFrameConnection> _ready = Channel.CreateUnbounded<IFrameConnection>();
    private readonly SemaphoreSlim _pendingSlots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    public QuicFrameListener(QuicListener listener, TransportOptions options, TransportCounters counters, ILogger logger)
    {
        _listener = listener;
        _options = options;
        _counters = counters;
        _logger = logger;
        _pendingSlots = new SemaphoreSlim(options.MaxPendingConnections, options.MaxPendingConnections);
        LocalEndPoint = listener.LocalEndPoint;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPEndPoint LocalEndPoint { get; }

    public async ValueTask<IFrameConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            _pendingSlots.Release();
            return connection;
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(QuicFrameListener), "the listener was disposed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _listener.DisposeAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var token = _stop.Token;
        while (!token.IsCancellationRequested)
        {
            QuicConnection connection;
            try
            {
                await _pendingSlots.WaitAsync(token).ConfigureAwait(false);
                connection = await _listener.AcceptConnectionAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (Exception ex) when (ex is QuicException or System.Security.Authentication.AuthenticationException)
            {
                // QuicListener reports failed TLS handshakes here.
                _pendingSlots.Release();
                _counters.TlsHandshakeFailed();
                LogHandshakeFailed(_logger, LocalEndPoint, ex.Message);
                continue;
            }

            var framed = QuicTransport.WrapAccepted(connection, _options.MaxFrameBytes, _counters);
            if (!_ready.Writer.TryWrite(framed))
            {
                _pendingSlots.Release();
                await framed.DisposeAsync().ConfigureAwait(false);
                continue;
            }

            _counters.ConnectionAccepted();
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "QUIC connection from {Remote} refused: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, EndPoint remote, string reason);
}
