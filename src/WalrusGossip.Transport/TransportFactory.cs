using System.Net.Quic;
using Microsoft.Extensions.Logging;
using WalrusGossip.Transport.Quic;
using WalrusGossip.Transport.Tcp;

namespace WalrusGossip.Transport;

/// <summary>Chooses and creates the stream transport (ARCHITECTURE.md, "Transport and wire protocol").</summary>
public static class TransportFactory
{
    /// <summary>
    /// Creates the transport that <see cref="TransportOptions.Mode"/> asks for. <see cref="TransportMode.Auto"/> picks QUIC
    /// when <see cref="QuicListener.IsSupported"/> and <see cref="QuicConnection.IsSupported"/>, else TCP + TLS 1.3.
    /// </summary>
    /// <param name="options">Settings; validated here.</param>
    /// <param name="logger">Logger for handshake failures and refused certificates.</param>
    /// <param name="modeReason">One line saying which transport was chosen and why, for the agent's start-up log.</param>
    /// <returns>The transport.</returns>
    /// <exception cref="ArgumentException">A setting is invalid.</exception>
    /// <exception cref="PlatformNotSupportedException"><see cref="TransportMode.Quic"/> was asked for and QUIC is unavailable.</exception>
    public static ITransport Create(TransportOptions options, ILogger logger, out string modeReason)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(logger);
        options.Validate();
        var quicAvailable = QuicSupport.IsAvailable(out var unavailableReason);
        switch (options.Mode)
        {
            case TransportMode.Tcp:
                modeReason = "Transport:Mode=tcp; using TCP + TLS 1.3";
                return new TcpTransport(options, logger);
            case TransportMode.Quic:
                if (!quicAvailable)
                {
                    throw new PlatformNotSupportedException($"Transport:Mode=quic, but {unavailableReason}. Use Transport:Mode=tcp or auto.");
                }

                break;
            default:
                if (!quicAvailable)
                {
                    modeReason = $"{unavailableReason}; using TCP + TLS 1.3";
                    return new TcpTransport(options, logger);
                }

                break;
        }

        if (QuicListener.IsSupported && QuicConnection.IsSupported)
        {
            modeReason = options.Mode == TransportMode.Quic
                ? "Transport:Mode=quic; using QUIC (TLS 1.3)"
                : "QUIC available (libmsquic loaded); using QUIC (TLS 1.3)";
            return new QuicTransport(options, logger);
        }

        throw new PlatformNotSupportedException(unavailableReason);
    }
}
