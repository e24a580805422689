namespace WalrusGossip.Client;

/// <summary>The requested index is past the end of the log (not yet appended or not yet committed).</summary>
public sealed class WalrusNotFoundException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusNotFoundException()
        : base("The index is past the end of the log.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusNotFoundException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusNotFoundException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
