using WalrusGossip.Protocol;

namespace WalrusGossip.Transport;

/// <summary>
/// Monotonic counters of a transport and its gossip socket, for metrics. Thread-safe; reads are atomic per
/// counter, not across counters.
/// </summary>
public sealed class TransportCounters
{
    private static readonly int KindCount = Enum.GetValues<ProtocolErrorKind>().Length;
    private readonly long[] _protocolErrors = new long[KindCount];
    private long _connectionsAccepted;
    private long _connectionsOpened;
    private long _tlsHandshakeFailures;
    private long _connectionsClosedForProtocolError;
    private long _framesSent;
    private long _framesReceived;
    private long _bytesSent;
    private long _bytesReceived;
    private long _datagramsSent;
    private long _datagramsReceived;
    private long _datagramsDropped;
    private long _gossipErrors;

    /// <summary>Inbound connections whose TLS handshake succeeded.</summary>
    public long ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    /// <summary>Outbound connections whose TLS handshake succeeded.</summary>
    public long ConnectionsOpened => Volatile.Read(ref _connectionsOpened);

    /// <summary>Inbound TLS handshakes that failed or timed out (untrusted certificate, wrong ALPN, ...).</summary>
    public long TlsHandshakeFailures => Volatile.Read(ref _tlsHandshakeFailures);

    /// <summary>Connections closed because the other side violated the protocol (sum over all kinds).</summary>
    public long ConnectionsClosedForProtocolError => Volatile.Read(ref _connectionsClosedForProtocolError);

    /// <summary>Frames sent.</summary>
    public long FramesSent => Volatile.Read(ref _framesSent);

    /// <summary>Frames received and parsed.</summary>
    public long FramesReceived => Volatile.Read(ref _framesReceived);

    /// <summary>Frame bytes sent, headers included.</summary>
    public long BytesSent => Volatile.Read(ref _bytesSent);

    /// <summary>Frame bytes received, headers included.</summary>
    public long BytesReceived => Volatile.Read(ref _bytesReceived);

    /// <summary>Gossip datagrams sent.</summary>
    public long DatagramsSent => Volatile.Read(ref _datagramsSent);

    /// <summary>Gossip datagrams received and delivered.</summary>
    public long DatagramsReceived => Volatile.Read(ref _datagramsReceived);

    /// <summary>Gossip datagrams not sent because they exceed the datagram limit or the address is invalid.</summary>
    public long DatagramsDropped => Volatile.Read(ref _datagramsDropped);

    /// <summary>Gossip socket errors (send or receive failures, callback exceptions).</summary>
    public long GossipErrors => Volatile.Read(ref _gossipErrors);

    /// <summary>Connections closed for a protocol error of one kind.</summary>
    /// <param name="kind">The kind.</param>
    /// <returns>The count.</returns>
    public long ProtocolErrors(ProtocolErrorKind kind) =>
        (uint)kind < (uint)KindCount ? Volatile.Read(ref _protocolErrors[(int)kind]) : 0;

    /// <summary>Counts a connection closed for a protocol error. Connections call this themselves for errors they
    /// detect on receive; call it for errors detected above the transport (for example a malformed Raft envelope).</summary>
    /// <param name="kind">The kind of violation.</param>
    public void RecordProtocolError(ProtocolErrorKind kind)
    {
        if ((uint)kind < (uint)KindCount)
        {
            Interlocked.Increment(ref _protocolErrors[(int)kind]);
        }

        Interlocked.Increment(ref _connectionsClosedForProtocolError);
    }

    /// <summary>
    /// Counts the connection closed for <paramref name="exception"/>, once: an exception the transport already counted
    /// (every <see cref="ProtocolException"/> thrown by <see cref="IFrameConnection.ReceiveAsync"/>, and refusals by
    /// <see cref="HelloHandshake.AcceptAsync"/> given counters) is not counted again. Call it in every catch that closes
    /// a connection for a protocol error.
    /// </summary>
    /// <param name="exception">The violation.</param>
    public void RecordProtocolError(ProtocolException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (!exception.Counted)
        {
            exception.Counted = true;
            RecordProtocolError(exception.Kind);
        }
    }

    internal void ConnectionAccepted() => Interlocked.Increment(ref _connectionsAccepted);

    internal void ConnectionOpened() => Interlocked.Increment(ref _connectionsOpened);

    internal void TlsHandshakeFailed() => Interlocked.Increment(ref _tlsHandshakeFailures);

    internal void FrameSent(int bytes)
    {
        Interlocked.Increment(ref _framesSent);
        Interlocked.Add(ref _bytesSent, bytes);
    }

    internal void FrameReceived(long bytes)
    {
        Interlocked.Increment(ref _framesReceived);
        Interlocked.Add(ref _bytesReceived, bytes);
    }

    internal void DatagramSent() => Interlocked.Increment(ref _datagramsSent);

    internal void DatagramReceived() => Interlocked.Increment(ref _datagramsReceived);

    internal void DatagramDropped() => Interlocked.Increment(ref _datagramsDropped);

    internal void GossipError() => Interlocked.Increment(ref _gossipErrors);
}
