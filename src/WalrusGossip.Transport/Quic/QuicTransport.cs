using System.Net;
using System.Net.Quic;
using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport.Quic;

/// <summary>
/// Frames over QUIC (System.Net.Quic, TLS 1.3, ALPN <c>walrus/1</c>): one bidirectional stream per connection,
/// opened by the connecting side, carrying the same framing as TCP. Used only where
/// <see cref="QuicListener.IsSupported"/> and <see cref="QuicConnection.IsSupported"/> are true (libmsquic present).
/// </summary>
[SupportedOSPlatform("linux")]
[SupportedOSPlatform("windows")]
[SupportedOSPlatform("osx")]
internal sealed class QuicTransport : ITransport
{
    /// <summary>Application error code sent when a stream is aborted.</summary>
    internal const long StreamErrorCode = 0x57_01;

    /// <summary>Application error code sent when a connection closes.</summary>
    internal const long CloseErrorCode = 0x57_00;

    private readonly TransportOptions _options;
    private readonly ILogger _logger;
    private readonly TlsSettings _tls;

    public QuicTransport(TransportOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _tls = new TlsSettings(options, logger);
    }

    public string Mode => "quic";

    public TransportCounters Counters { get; } = new();

    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate => _tls.Certificate;

    public void ReloadCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) => _tls.Reload(certificate);

    public async ValueTask<IFrameListener> ListenAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _ = _tls.ServerOptions(); // fails now when there is no certificate
        QuicServerConnectionOptions ConnectionOptions() => new()
        {
            DefaultStreamErrorCode = StreamErrorCode,
            DefaultCloseErrorCode = CloseErrorCode,
            ServerAuthenticationOptions = _tls.ServerOptions(), // per connection: a reloaded certificate applies at once
            MaxInboundBidirectionalStreams = 1,
            MaxInboundUnidirectionalStreams = 0,
            HandshakeTimeout = _options.HandshakeTimeout,
        };
        var listener = await QuicListener.ListenAsync(
            new QuicListenerOptions
            {
                ListenEndPoint = endPoint,
                ApplicationProtocols = [TlsSettings.Alpn],
                ListenBacklog = _options.MaxPendingConnections,
                ConnectionOptionsCallback = (_, _, _) => ValueTask.FromResult(ConnectionOptions()),
            },
            cancellationToken).ConfigureAwait(false);
        return new QuicFrameListener(listener, _options, Counters, _logger);
    }

    public async ValueTask<IFrameConnection> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout + _options.HandshakeTimeout);
        QuicConnection? connection = null;
        try
        {
            EndPoint remote = IPAddress.TryParse(host, out var address) ? new IPEndPoint(address, port) : new DnsEndPoint(host, port);
            connection = await QuicConnection.ConnectAsync(
                new QuicClientConnectionOptions
                {
                    RemoteEndPoint = remote,
                    DefaultStreamErrorCode = StreamErrorCode,
                    DefaultCloseErrorCode = CloseErrorCode,
                    ClientAuthenticationOptions = _tls.ClientOptions(host),
                    MaxInboundBidirectionalStreams = 0,
                    MaxInboundUnidirectionalStreams = 0,
                    HandshakeTimeout = _options.HandshakeTimeout,
                },
                timeout.Token).ConfigureAwait(false);
            if (connection.NegotiatedApplicationProtocol != TlsSettings.Alpn)
            {
                throw new ProtocolException(ProtocolErrorKind.VersionMismatch, $"{host}:{port} did not agree to ALPN {ProtocolVersion.Alpn}");
            }

            var stream = await connection.OpenOutboundStreamAsync(QuicStreamType.Bidirectional, timeout.Token).ConfigureAwait(false);
            Counters.ConnectionOpened();
            return Wrap(connection, stream, _options.MaxFrameBytes, Counters);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            throw new TimeoutException($"QUIC connection to {host}:{port} did not complete within {(_options.ConnectTimeout + _options.HandshakeTimeout).TotalSeconds:0.###} s");
        }
        catch
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    internal static StreamFrameConnection WrapAccepted(QuicConnection connection, int maxFrameBytes, TransportCounters counters)
    {
        var deferred = new DeferredQuicStream(connection);
        return new(
            deferred,
            connection.RemoteEndPoint,
            connection.RemoteCertificate as System.Security.Cryptography.X509Certificates.X509Certificate2,
            maxFrameBytes,
            counters,
            completeWrites: async () => (await deferred.GetStreamAsync(CancellationToken.None).ConfigureAwait(false)).CompleteWrites(),
            closeTransport: () => CloseAsync(connection));
    }

    internal static StreamFrameConnection Wrap(QuicConnection connection, QuicStream stream, int maxFrameBytes, TransportCounters counters) =>
        new(
            stream,
            connection.RemoteEndPoint,
            connection.RemoteCertificate as System.Security.Cryptography.X509Certificates.X509Certificate2,
            maxFrameBytes,
            counters,
            completeWrites: () =>
            {
                stream.CompleteWrites();
                return ValueTask.CompletedTask;
            },
            closeTransport: () => CloseAsync(connection));

    private static async ValueTask CloseAsync(QuicConnection connection)
    {
        try
        {
            await connection.CloseAsync(CloseErrorCode).ConfigureAwait(false);
        }
        catch (QuicException)
        {
            // Already closed by the other side.
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
