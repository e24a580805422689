namespace WalrusGossip.Client;

/// <summary>The cluster refused the request as invalid (for example a payload above the entry size limit or a stream name above 255 bytes). Retrying does not help.</summary>
public sealed class WalrusInvalidArgumentException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusInvalidArgumentException()
        : base("The request is invalid.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusInvalidArgumentException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusInvalidArgumentException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
