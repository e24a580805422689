using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport.Tcp;

/// <summary>
/// Accepts TCP sockets and runs each TLS handshake in the background, so a slow or hostile client never holds up
/// others. At most <see cref="TransportOptions.MaxPendingConnections"/> connections are between accept and
/// <see cref="FrameListenerBase.AcceptAsync"/> at once.
/// </summary>
internal sealed partial class TcpFrameListener : FrameListenerBase
{
    private readonly Socket _socket;
    private readonly Func<SslServerAuthenticationOptions> _serverOptions;
    private readonly TransportOptions _options;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;

    public TcpFrameListener(Socket socket, Func<SslServerAuthenticationOptions> serverOptions, TransportOptions options, TransportCounters counters, ILogger logger)
        : base(options.MaxPendingConnections, (IPEndPoint)socket.LocalEndPoint!)
    {
        _socket = socket;
        _serverOptions = serverOptions;
        _options = options;
        _counters = counters;
        _logger = logger;
        StartAccepting();
    }

    protected override ValueTask CloseListenerAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }

    protected override async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                await PendingSlots.WaitAsync(stopping).ConfigureAwait(false);
                socket = await _socket.AcceptAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                PendingSlots.Release();
                LogAcceptFailed(_logger, LocalEndPoint, ex.SocketErrorCode, ex);
                await Task.Delay(TimeSpan.FromMilliseconds(10), CancellationToken.None).ConfigureAwait(false);
                continue;
            }

            _ = HandshakeAsync(socket, stopping);
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
                await ssl.AuthenticateAsServerAsync(_serverOptions(), timeout.Token).ConfigureAwait(false);
            }

            if (ssl.NegotiatedApplicationProtocol != TlsSettings.Alpn)
            {
                throw new ProtocolException(ProtocolErrorKind.VersionMismatch, $"client did not offer ALPN {ProtocolVersion.Alpn}");
            }

            var connection = TcpTransport.Wrap(ssl, remote, socket, _options.MaxFrameBytes, _counters);
            if (!await OfferAsync(connection).ConfigureAwait(false))
            {
                return;
            }

            _counters.ConnectionAccepted();
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            _counters.TlsHandshakeFailed();
            PendingSlots.Release();
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
