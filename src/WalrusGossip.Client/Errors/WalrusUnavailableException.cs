namespace WalrusGossip.Client;

/// <summary>No agent could serve the request: no quorum, no known leader, or no endpoint reachable. Transient.</summary>
public sealed class WalrusUnavailableException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusUnavailableException()
        : base("The cluster is unavailable (no quorum, no leader or no reachable endpoint).")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusUnavailableException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusUnavailableException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <inheritdoc/>
    public override bool IsTransient => true;
}
