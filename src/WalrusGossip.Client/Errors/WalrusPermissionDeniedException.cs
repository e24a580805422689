namespace WalrusGossip.Client;

/// <summary>The caller is authenticated but none of its roles grants the permission the request needs (append, read or tail on the stream, or admin): the agent answered PERMISSION_DENIED. Retrying does not help; ask an administrator for a role (<c>walrusctl auth</c>).</summary>
public sealed class WalrusPermissionDeniedException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusPermissionDeniedException()
        : base("The caller lacks the permission this request needs.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusPermissionDeniedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusPermissionDeniedException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
