using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport.Tcp;

/// <summary>
/// Accepts TCP sockets and runs each TLS handshake in the background, so a slow or hostile client never holds up
/// others. At most <see cref="TransportOptions.MaxPendingConnections"/> connections are between accept and
/// <see cref="AcceptAsync"/> at once.
/// </summary>
internal sealed partial class TcpFrameListener : IFrameListener
{
    private readonly Socket _socket;
    private readonly SslServerAuthenticationOptions _serverOptions;
    private readonly TransportOptions _options;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly Channel<IFrameConnection> _ready = Channel.CreateUnbounded<IFrameConnection>();
    private readonly SemaphoreSlim _pendingSlots;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private int _disposed;

    public TcpFrameListener(Socket socket, SslServerAuthenticationOptions serverOptions, TransportOptions options, TransportCounters counters, ILogger logger)
    {
        _socket = socket;
        _serverOptions = serverOptions;
        _options = options;
        _counters = counters;
        _logger = logger;
        _pendingSlots = new SemaphoreSlim(options.MaxPendingConnections, options.MaxPendingConnections);
        LocalEndPoint = (IPEndPoint)socket.LocalEndPoint!;
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
            throw new ObjectDisposedException(nameof(TcpFrameListener), "the listener was disposed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
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
            Socket socket;
            try
            {
                await _pendingSlots.WaitAsync(token).ConfigureAwait(false);
                socket = await _socket.AcceptAsync(token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                _pendingSlots.Release();
                LogAcceptFailed(_logger, LocalEndPoint, ex.SocketErrorCode, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            _ = HandshakeAsync(socket, token);
        }
    }

    private async Task HandshakeAsync(Socket socket, CancellationToken stopping)
    {
        var remote = socket.RemoteEndPoint ?? new IPEndPoint(IPAddress.None, 0);
        socket.NoDelay = true;
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping))
            {
                timeout.CancelAfter(_options.HandshakeTimeout);
                await ssl.AuthenticateAsServerAsync(_serverOptions, timeout.Token).ConfigureAwait(false);
            }

            if (ssl.NegotiatedApplicationProtocol != TlsSettings.Alpn)
            {
                throw new ProtocolException(ProtocolErrorKind.VersionMismatch, $"client did not offer ALPN {ProtocolVersion.Alpn}");
            }

            var connection = TcpTransport.Wrap(ssl, remote, socket, _options.MaxFrameBytes, _counters);
            if (!_ready.Writer.TryWrite(connection))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                _pendingSlots.Release();
                return;
            }

            _counters.ConnectionAccepted();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _counters.TlsHandshakeFailed();
            _pendingSlots.Release();
            if (!stopping.IsCancellationRequested)
            {
                LogHandshakeFailed(_logger, remote, ex.Message);
            }

            await ssl.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "TLS handshake from {Remote} failed; connection closed: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, EndPoint remote, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Error, Message = "Accepting on {LocalEndPoint} failed ({Error})")]
    private static partial void LogAcceptFailed(ILogger logger, IPEndPoint localEndPoint, SocketError error, Exception exception);
}
