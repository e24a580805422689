namespace WalrusGossip.Client;

/// <summary>The request did not complete in time. For an append the entry may or may not have been committed; retrying it through the same client is safe because the retry carries the same (client id, sequence) and is answered with the original index. Transient.</summary>
public sealed class WalrusTimeoutException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusTimeoutException()
        : base("The request timed out.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusTimeoutException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusTimeoutException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc/>
    public override bool IsTransient => true;
}
