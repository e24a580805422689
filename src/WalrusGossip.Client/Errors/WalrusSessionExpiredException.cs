namespace WalrusGossip.Client;

/// <summary>The cluster no longer remembers this client's session (client id), so it cannot tell whether a retried append was already stored. Create a new client (new client id) and decide whether to append again.</summary>
public sealed class WalrusSessionExpiredException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusSessionExpiredException()
        : base("The client session expired.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusSessionExpiredException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusSessionExpiredException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
