namespace WalrusGossip.Client;

/// <summary>The requested index precedes the first index the cluster retains: it was compacted into a checkpoint.</summary>
public sealed class WalrusCompactedException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusCompactedException()
        : base("The index has been compacted.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusCompactedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusCompactedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
