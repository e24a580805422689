namespace WalrusGossip.Client;

/// <summary>The agent refused the client's credentials: it requires client authentication and the client presented no certificate from the cluster CA and no token, or an unknown or revoked token. Retrying does not help; configure <see cref="WalrusClientOptions.ClientCertificateFile"/> or <see cref="WalrusClientOptions.Token"/>.</summary>
public sealed class WalrusAuthenticationException : WalrusException
{
    /// <summary>Creates an exception with a generic message.</summary>
    public WalrusAuthenticationException()
        : base("The agent refused the client's credentials.")
    {
    }

    /// <summary>Creates an exception.</summary>
    /// <param name="message">What failed.</param>
    public WalrusAuthenticationException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="innerException">The underlying failure.</param>
    public WalrusAuthenticationException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
