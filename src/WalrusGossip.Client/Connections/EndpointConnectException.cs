namespace WalrusGossip.Client.Connections;

/// <summary>
/// Opening a connection to an endpoint failed (refused, unreachable, TLS or Hello handshake refused, or too slow).
/// Only these count towards the endpoint's circuit breaker: a connection that dies takes every request waiting on it
/// down at once, which says nothing more about the endpoint than one failure does.
/// </summary>
internal sealed class EndpointConnectException : IOException
{
    public EndpointConnectException()
        : base("connecting failed")
    {
    }

    public EndpointConnectException(string message)
        : base(message)
    {
    }

    public EndpointConnectException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
