using System.Net;
using System.Net.Quic;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace WalrusGossip.Transport.Quic;

/// <summary>
/// Accepts QUIC connections in the background (the QUIC listener runs the TLS handshakes) and hands out each one
/// whose handshake succeeded; its single bidirectional stream is accepted on first use (<see cref="DeferredQuicStream"/>).
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed partial class QuicFrameListener : FrameListenerBase
{
    private readonly QuicListener _listener;
    private readonly TransportOptions _options;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;

    public QuicFrameListener(QuicListener listener, TransportOptions options, TransportCounters counters, ILogger logger)
        : base(options.MaxPendingConnections, listener.LocalEndPoint)
    {
        _listener = listener;
        _options = options;
        _counters = counters;
        _logger = logger;
        StartAccepting();
    }

    protected override ValueTask CloseListenerAsync() => _listener.DisposeAsync();

    protected override async Task AcceptLoopAsync(CancellationToken stopping)
    {
        while (!stopping.IsCancellationRequested)
        {
            QuicConnection connection;
            try
            {
                await PendingSlots.WaitAsync(stopping).ConfigureAwait(false);
                connection = await _listener.AcceptConnectionAsync(stopping).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (Exception ex) when (ex is QuicException or System.Security.Authentication.AuthenticationException)
            {
                // QuicListener reports failed TLS handshakes here.
                PendingSlots.Release();
                _counters.TlsHandshakeFailed();
                LogHandshakeFailed(_logger, LocalEndPoint, ex.Message);
                continue;
            }

            var framed = QuicTransport.WrapAccepted(connection, _options.MaxFrameBytes, _counters);
            if (!await OfferAsync(framed).ConfigureAwait(false))
            {
                continue;
            }

            _counters.ConnectionAccepted();
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "QUIC connection from {Remote} refused: {Reason}")]
    private static partial void LogHandshakeFailed(ILogger logger, EndPoint remote, string reason);
}
