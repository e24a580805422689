using System.Net;

namespace WalrusGossip.Transport;

/// <summary>
/// A stream transport that carries WalrusGossip frames over TLS 1.3 with ALPN <c>walrus/1</c>: QUIC or TCP.
/// Create one with <see cref="TransportFactory.Create"/>; it is thread-safe and holds no connections itself.
/// </summary>
public interface ITransport
{
    /// <summary>"quic" or "tcp".</summary>
    string Mode { get; }

    /// <summary>Counters shared by every listener and connection of this transport.</summary>
    TransportCounters Counters { get; }

    /// <summary>Starts listening. TLS handshakes run in the background; only completed connections are accepted.</summary>
    /// <param name="endPoint">Address and port to bind; port 0 picks a free port (see <see cref="IFrameListener.LocalEndPoint"/>).</param>
    /// <param name="cancellationToken">Cancels start-up.</param>
    /// <returns>The listener.</returns>
    /// <exception cref="InvalidOperationException">No <see cref="TransportOptions.Certificate"/> is configured.</exception>
    /// <exception cref="System.Net.Sockets.SocketException">The address is in use or cannot be bound.</exception>
    ValueTask<IFrameListener> ListenAsync(IPEndPoint endPoint, CancellationToken cancellationToken);

    /// <summary>Connects and completes the TLS handshake.</summary>
    /// <param name="host">DNS name or IP address; also the name the server certificate must carry.</param>
    /// <param name="port">Port, 1 to 65535.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The connection.</returns>
    /// <exception cref="TimeoutException">Connecting or the handshake exceeded its timeout.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed (for example an untrusted certificate).</exception>
    /// <exception cref="System.IO.IOException">The connection was refused or lost.</exception>
    ValueTask<IFrameConnection> ConnectAsync(string host, int port, CancellationToken cancellationToken);

    /// <summary>The certificate this transport presents in new handshakes, or null when it has none.</summary>
    System.Security.Cryptography.X509Certificates.X509Certificate2? Certificate { get; }

    /// <summary>
    /// Presents <paramref name="certificate"/> (with its private key) from the next handshake on, listening and dialling;
    /// open connections keep the one they authenticated with. For certificate rotation without a restart.
    /// </summary>
    /// <param name="certificate">The new certificate.</param>
    /// <exception cref="ArgumentException">It has no private key.</exception>
    void ReloadCertificate(System.Security.Cryptography.X509Certificates.X509Certificate2 certificate);
}
