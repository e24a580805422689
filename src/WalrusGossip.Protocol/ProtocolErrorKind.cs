namespace WalrusGossip.Protocol;

/// <summary>Why a peer's bytes were refused. Every kind closes the connection it arrived on.</summary>
public enum ProtocolErrorKind
{
    /// <summary>The length prefix exceeds the configured <c>MaxFrameBytes</c>; refused before allocating.</summary>
    FrameTooLarge = 0,

    /// <summary>The frame's message type is not one of <see cref="Messages.MessageType"/>.</summary>
    UnknownMessageType = 1,

    /// <summary>The body does not parse as its message type, a field holds an invalid value, or the length prefix is too small.</summary>
    Malformed = 2,

    /// <summary>The stream ended in the middle of a frame.</summary>
    Truncated = 3,

    /// <summary>The peer speaks another protocol version (Hello or ALPN).</summary>
    VersionMismatch = 4,

    /// <summary>A well-formed message arrived where the protocol does not allow it (for example anything but Hello first).</summary>
    UnexpectedMessage = 5,

    /// <summary>The Hello was refused for a reason other than the version: wrong role for this port, or another cluster.</summary>
    HandshakeRejected = 6,

    /// <summary>A client Hello was refused for missing or invalid credentials (no certificate or token where the agent requires one, an unknown or revoked token).</summary>
    Unauthenticated = 7,
}
