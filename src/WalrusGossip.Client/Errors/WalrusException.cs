namespace WalrusGossip.Client;

/// <summary>
/// A request to the WalrusGossip cluster failed. The client throws a subclass once its retries are exhausted (or at
/// once for errors a retry cannot fix); the subclass says why.
/// </summary>
public class WalrusException : Exception
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusException()
        : base("The WalrusGossip request failed.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>
    /// True when retrying the same request later may succeed (unavailable, timeout, overloaded). The client has
    /// already retried up to <see cref="WalrusClientOptions.MaxRetries"/> times before throwing.
    /// </summary>
    public virtual bool IsTransient => false;
}
