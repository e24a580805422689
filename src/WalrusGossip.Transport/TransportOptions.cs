using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport;

/// <summary>Settings of a stream transport (configuration section <c>Transport</c>).</summary>
public sealed class TransportOptions
{
    /// <summary>Transport to use. Default <see cref="TransportMode.Auto"/>: QUIC when supported, else TCP.</summary>
    public TransportMode Mode { get; set; } = TransportMode.Auto;

    /// <summary>
    /// Largest frame accepted or sent, in bytes of type + body (the length prefix's value). Default
    /// <see cref="ProtocolLimits.DefaultMaxFrameBytes"/> (16 MiB); range 1 KiB to 1 GiB. A larger incoming
    /// length prefix closes the connection before anything is allocated.
    /// </summary>
    public int MaxFrameBytes { get; set; } = ProtocolLimits.DefaultMaxFrameBytes;

    /// <summary>
    /// This node's certificate, with its private key. Required to listen; when connecting it is presented as the
    /// client certificate (mutual TLS). Default none.
    /// </summary>
    public X509Certificate2? Certificate { get; set; }

    /// <summary>
    /// The cluster CA (or CAs). When set, a remote certificate is accepted only if it chains to one of these
    /// (custom root trust; the operating system's store is not consulted). When null, the operating system's
    /// trust store decides. Default null.
    /// </summary>
    public X509Certificate2Collection? TrustedRoots { get; set; }

    /// <summary>
    /// When true a listener asks connecting sides for a certificate and refuses those without one that chains to
    /// <see cref="TrustedRoots"/> (mutual TLS; peers always use it). Default false (clients need none).
    /// </summary>
    public bool RequireClientCertificate { get; set; }

    /// <summary>
    /// When true a listener asks connecting sides for a certificate but also accepts those that send none (clients
    /// that authenticate with a token instead); a certificate that is sent must chain to <see cref="TrustedRoots"/>.
    /// Default false.
    /// </summary>
    public bool RequestClientCertificate { get; set; }

    /// <summary>
    /// When true (default) a connecting side checks that the server certificate names the host it dialled
    /// (DNS or IP subject alternative name). Turn off only when peers are dialled by addresses their
    /// certificates do not list and <see cref="TrustedRoots"/> is the cluster CA.
    /// </summary>
    public bool ValidateRemoteName { get; set; } = true;

    /// <summary>Time allowed to establish the TCP or QUIC connection. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Time allowed for the TLS handshake (and, on QUIC, opening the stream). Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most inbound connections a listener holds between accepting the socket and the application's
    /// <see cref="IFrameListener.AcceptAsync"/>, handshakes included. Default 256; further connections wait in the
    /// kernel's backlog.
    /// </summary>
    public int MaxPendingConnections { get; set; } = 256;

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is out of range; the message names it.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Mode))
        {
            throw new ArgumentException($"Transport:Mode {Mode} is not one of auto, quic, tcp.", nameof(Mode));
        }

        ProtocolLimits.ValidateMaxFrameBytes(MaxFrameBytes, nameof(MaxFrameBytes));
        if (ConnectTimeout <= TimeSpan.Zero || HandshakeTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("Transport:ConnectTimeout and Transport:HandshakeTimeout must be positive.", nameof(ConnectTimeout));
        }

        if (MaxPendingConnections < 1)
        {
            throw new ArgumentException("Transport:MaxPendingConnections must be at least 1.", nameof(MaxPendingConnections));
        }

        if (Certificate is { HasPrivateKey: false })
        {
            throw new ArgumentException($"Transport:Certificate {Certificate.Subject} has no private key.", nameof(Certificate));
        }

        if (RequireClientCertificate && TrustedRoots is null)
        {
            throw new ArgumentException("Transport:RequireClientCertificate needs Transport:TrustedRoots (the cluster CA).", nameof(TrustedRoots));
        }
    }
}
