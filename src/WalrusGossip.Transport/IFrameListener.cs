using System.Net;

namespace WalrusGossip.Transport;

/// <summary>Accepts authenticated frame connections. Dispose it to stop listening.</summary>
public interface IFrameListener : IAsyncDisposable
{
    /// <summary>The bound address, with the actual port when 0 was requested.</summary>
    IPEndPoint LocalEndPoint { get; }

    /// <summary>
    /// Waits for the next connection whose TLS handshake succeeded. Failed handshakes are logged and counted
    /// (<see cref="TransportCounters.TlsHandshakeFailures"/>), never returned.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The connection; the caller owns it.</returns>
    /// <exception cref="ObjectDisposedException">The listener was disposed.</exception>
    ValueTask<IFrameConnection> AcceptAsync(CancellationToken cancellationToken);
}
