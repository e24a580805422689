namespace WalrusGossip.Protocol;

/// <summary>
/// The wire protocol version. It is carried twice: in the TLS ALPN extension (<see cref="Alpn"/>), so a
/// peer speaking another version fails the TLS handshake, and in the <c>Hello</c> frame, so the refusal
/// has a readable reason.
/// </summary>
public static class ProtocolVersion
{
    /// <summary>The version this build speaks.</summary>
    public const uint Current = 1;

    /// <summary>The ALPN protocol name for <see cref="Current"/>: <c>walrus/1</c>.</summary>
    public const string Alpn = "walrus/1";
}
