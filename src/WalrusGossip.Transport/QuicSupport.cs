using System.Net.Quic;

namespace WalrusGossip.Transport;

/// <summary>Whether this machine can run the QUIC transport, and if not, why.</summary>
public static class QuicSupport
{
    /// <summary>True when System.Net.Quic can listen and connect here (it needs native libmsquic 2.x).</summary>
    /// <param name="reason">When false: why QUIC is unavailable, for logs and skipped tests.</param>
    /// <returns>Whether QUIC is available.</returns>
    public static bool IsAvailable(out string reason)
    {
        if (QuicListener.IsSupported && QuicConnection.IsSupported)
        {
            reason = "";
            return true;
        }

        reason = OperatingSystem.IsLinux()
            ? "QUIC unavailable: libmsquic not found (install the libmsquic package from packages.microsoft.com)"
            : OperatingSystem.IsWindows() || OperatingSystem.IsMacOS()
                ? "QUIC unavailable: System.Net.Quic reports no support on this OS version (msquic missing or too old)"
                : $"QUIC unavailable: System.Net.Quic does not support {Environment.OSVersion.Platform}";
        return false;
    }
}
