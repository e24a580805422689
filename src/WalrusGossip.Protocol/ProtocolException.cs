namespace WalrusGossip.Protocol;

/// <summary>
/// The bytes received violate the wire protocol. The connection they arrived on can no longer be trusted to be
/// at a frame boundary: the receiver closes it, logs <see cref="Exception.Message"/> and counts <see cref="Kind"/>.
/// </summary>
public sealed class ProtocolException : Exception
{
    /// <summary>Creates an exception with no detail; prefer the constructor taking a kind.</summary>
    public ProtocolException()
        : this(ProtocolErrorKind.Malformed, "protocol violation")
    {
    }

    /// <summary>Creates an exception of kind <see cref="ProtocolErrorKind.Malformed"/>.</summary>
    /// <param name="message">What was wrong.</param>
    public ProtocolException(string message)
        : this(ProtocolErrorKind.Malformed, message)
    {
    }

    /// <summary>Creates an exception of kind <see cref="ProtocolErrorKind.Malformed"/> with a cause.</summary>
    /// <param name="message">What was wrong.</param>
    /// <param name="innerException">The underlying failure.</param>
    public ProtocolException(string message, Exception innerException)
        : this(ProtocolErrorKind.Malformed, message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="kind">The class of violation.</param>
    /// <param name="message">What was wrong, for logs.</param>
    /// <param name="innerException">The underlying failure, if any.</param>
    public ProtocolException(ProtocolErrorKind kind, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Kind = kind;
    }

    /// <summary>The class of violation.</summary>
    public ProtocolErrorKind Kind { get; }

    /// <summary>Set by the transport once the error has been counted, so that it is counted exactly once.</summary>
    internal bool Counted { get; set; }
}
