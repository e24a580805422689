using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport.Tcp;

/// <summary>Frames over TCP + TLS 1.3 (<see cref="SslStream"/>, ALPN <c>walrus/1</c>). Runs on every platform.</summary>
internal sealed class TcpTransport : ITransport
{
    private readonly TransportOptions _options;
    private readonly ILogger _logger;
    private readonly TlsSettings _tls;

    public TcpTransport(TransportOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        _tls = new TlsSettings(options, logger);
    }

    public string Mode => "tcp";

    public TransportCounters Counters { get; } = new();

    public System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate => _tls.Certificate;

    public void ReloadCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate) => _tls.Reload(certificate);

    public ValueTask<IFrameListener> ListenAsync(IPEndPoint endPoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        _ = _tls.ServerOptions(); // fails now, not at the first client, when there is no certificate
        var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.Address.Equals(IPAddress.IPv6Any))
            {
                // "[::]" listens on IPv4 too, as operators expect.
                socket.DualMode = true;
            }

            socket.Bind(endPoint);
            socket.Listen(512);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        IFrameListener listener = new TcpFrameListener(socket, _tls.ServerOptions, _options, Counters, _logger);
        return ValueTask.FromResult(listener);
    }

    public async ValueTask<IFrameConnection> ConnectAsync(string host, int port, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, IPEndPoint.MaxPort);
        var socket = await ConnectSocketAsync(host, port, cancellationToken).ConfigureAwait(false);
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true), leaveInnerStreamOpen: false);
        try
        {
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timeout.CancelAfter(_options.HandshakeTimeout);
                try
                {
                    await ssl.AuthenticateAsClientAsync(_tls.ClientOptions(host), timeout.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"TLS handshake with {host}:{port} did not finish within {_options.HandshakeTimeout.TotalSeconds:0.###} s");
                }
            }

            if (ssl.NegotiatedApplicationProtocol != TlsSettings.Alpn)
            {
                throw new ProtocolException(ProtocolErrorKind.VersionMismatch, $"{host}:{port} did not agree to ALPN {ProtocolVersion.Alpn}");
            }

            Counters.ConnectionOpened();
            return Wrap(ssl, socket.RemoteEndPoint ?? new DnsEndPoint(host, port), socket, _options.MaxFrameBytes, Counters);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    internal static StreamFrameConnection Wrap(SslStream ssl, EndPoint remote, Socket socket, int maxFrameBytes, TransportCounters counters) =>
        new(
            ssl,
            remote,
            ssl.RemoteCertificate as System.Security.Cryptography.X509Certificates.X509Certificate2,
            maxFrameBytes,
            counters,
            completeWrites: async () =>
            {
                await ssl.ShutdownAsync().ConfigureAwait(false);
                socket.Shutdown(SocketShutdown.Send);
            },
            closeTransport: () =>
            {
                socket.Dispose();
                return ValueTask.CompletedTask;
            });

    private async Task<Socket> ConnectSocketAsync(string host, int port, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.ConnectTimeout);
        try
        {
            var addresses = IPAddress.TryParse(host, out var literal)
                ? [literal]
                : await Dns.GetHostAddressesAsync(host, timeout.Token).ConfigureAwait(false);
            SocketException? last = null;
            foreach (var address in addresses)
            {
                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token).ConfigureAwait(false);
                    return socket;
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    last = ex;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            throw new IOException($"cannot connect to {host}:{port}: {last?.Message ?? "no address"}", last);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connecting to {host}:{port} did not finish within {_options.ConnectTimeout.TotalSeconds:0.###} s");
        }
    }
}
