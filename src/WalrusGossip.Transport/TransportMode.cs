namespace WalrusGossip.Transport;

/// <summary>Which stream transport carries frames (configuration key <c>Transport:Mode</c>).</summary>
public enum TransportMode
{
    /// <summary>QUIC when the platform supports it (libmsquic present), otherwise TCP + TLS 1.3.</summary>
    Auto = 0,

    /// <summary>QUIC (System.Net.Quic, TLS 1.3, ALPN <c>walrus/1</c>); fails when the platform does not support it.</summary>
    Quic = 1,

    /// <summary>TCP with TLS 1.3 (<see cref="System.Net.Security.SslStream"/>, ALPN <c>walrus/1</c>).</summary>
    Tcp = 2,
}
