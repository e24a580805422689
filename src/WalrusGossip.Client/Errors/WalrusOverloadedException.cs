namespace WalrusGossip.Client;

/// <summary>The cluster refused the request under back-pressure (too many proposals in flight or too many bytes queued). Transient: retry later, or slow down.</summary>
public sealed class WalrusOverloadedException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusOverloadedException()
        : base("The cluster is overloaded.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusOverloadedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusOverloadedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc/>
    public override bool IsTransient => true;
}
