namespace WalrusGossip.Client.Connections;

/// <summary>The connection to an endpoint closed or failed while a request was waiting for its answer.</summary>
internal sealed class ConnectionLostException : IOException
{
    public ConnectionLostException()
        : base("connection lost")
    {
    }

    public ConnectionLostException(string message)
        : base(message)
    {
    }

    public ConnectionLostException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }
}
