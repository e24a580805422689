using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport;

/// <summary>
/// The first exchange on every connection, after TLS: the connecting side sends <see cref="Hello"/>, the accepting
/// side checks protocol version, role and cluster and answers <see cref="HelloAck"/>. A refusal is sent as a
/// HelloAck with <c>accepted = false</c> and a reason, and both sides then close the connection.
/// </summary>
public static class HelloHandshake
{
    /// <summary>Connecting side: sends <paramref name="hello"/> and waits for the answer.</summary>
    /// <param name="connection">A new connection.</param>
    /// <param name="hello">The hello; <see cref="Hello.ProtocolVersion"/> 0 is replaced by <see cref="ProtocolVersion.Current"/>.</param>
    /// <param name="cancellationToken">Cancels the exchange (apply a timeout through it).</param>
    /// <returns>The accepting side's acknowledgement.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.VersionMismatch"/> when the other side speaks another
    /// version; <see cref="ProtocolErrorKind.Unauthenticated"/> when it refused the client's credentials;
    /// <see cref="ProtocolErrorKind.HandshakeRejected"/> when it refused the hello for another reason or closed
    /// without answering; <see cref="ProtocolErrorKind.UnexpectedMessage"/> when it answered something else.</exception>
    public static async ValueTask<HelloAck> ConnectAsync(IFrameConnection connection, Hello hello, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(hello);
        if (hello.ProtocolVersion == 0)
        {
            hello.ProtocolVersion = ProtocolVersion.Current;
        }

        await connection.SendAsync(MessageType.Hello, hello, cancellationToken).ConfigureAwait(false);
        var frame = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new ProtocolException(ProtocolErrorKind.HandshakeRejected, $"{connection.RemoteEndPoint} closed the connection without answering Hello");
        if (frame.Message is not HelloAck ack)
        {
            throw new ProtocolException(ProtocolErrorKind.UnexpectedMessage, $"{connection.RemoteEndPoint} answered Hello with {frame.Type}");
        }

        if (!ack.Accepted)
        {
            var kind = ack.ProtocolVersion != hello.ProtocolVersion ? ProtocolErrorKind.VersionMismatch
                : ack.Unauthenticated ? ProtocolErrorKind.Unauthenticated : ProtocolErrorKind.HandshakeRejected;
            throw new ProtocolException(kind, $"{connection.RemoteEndPoint} refused Hello: {ack.Reason}");
        }

        if (ack.ProtocolVersion != hello.ProtocolVersion)
        {
            throw new ProtocolException(ProtocolErrorKind.VersionMismatch, $"{connection.RemoteEndPoint} speaks protocol version {ack.ProtocolVersion}; this node speaks {hello.ProtocolVersion}");
        }

        return ack;
    }

    /// <summary>
    /// Accepting side: receives the first frame, which must be a <see cref="Hello"/>, validates it against
    /// <paramref name="options"/>, and answers. On refusal the reason is sent to the other side, counted in
    /// <paramref name="counters"/> and thrown; the caller then closes the connection.
    /// </summary>
    /// <param name="connection">A newly accepted connection.</param>
    /// <param name="options">What this port accepts.</param>
    /// <param name="counters">Where refusals are counted, or null. Framing errors are counted by the connection itself.</param>
    /// <param name="cancellationToken">Cancels the exchange (apply a timeout through it).</param>
    /// <returns>The accepted hello, or null when the other side closed the connection before sending anything.</returns>
    /// <exception cref="ProtocolException">The first frame is not a valid Hello (kinds <see cref="ProtocolErrorKind.VersionMismatch"/>,
    /// <see cref="ProtocolErrorKind.HandshakeRejected"/>, <see cref="ProtocolErrorKind.UnexpectedMessage"/>, or any framing kind).</exception>
    public static async ValueTask<Hello?> AcceptAsync(IFrameConnection connection, HelloAcceptOptions options, TransportCounters? counters, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        ArgumentNullException.ThrowIfNull(options);
        var frame = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
        if (frame is not { } f)
        {
            return null;
        }

        if (f.Message is not Hello hello)
        {
            counters?.RecordProtocolError(ProtocolErrorKind.UnexpectedMessage);
            throw new ProtocolException(ProtocolErrorKind.UnexpectedMessage, $"first frame from {connection.RemoteEndPoint} is {f.Type}, not Hello") { Counted = counters is not null };
        }

        var (kind, reason) = Check(hello, options, connection.RemoteCertificate);
        if (reason is null)
        {
            await connection.SendAsync(MessageType.HelloAck, Ack(options, accepted: true, ""), cancellationToken).ConfigureAwait(false);
            return hello;
        }

        counters?.RecordProtocolError(kind);
        try
        {
            var refusal = Ack(options, accepted: false, reason);
            refusal.Unauthenticated = kind == ProtocolErrorKind.Unauthenticated;
            await connection.SendAsync(MessageType.HelloAck, refusal, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException)
        {
            // The other side may already be gone; the refusal stands either way.
        }

        throw new ProtocolException(kind, $"refused Hello from {connection.RemoteEndPoint} ({hello.Name}, node {hello.NodeId}): {reason}") { Counted = counters is not null };
    }

    private static (ProtocolErrorKind Kind, string? Reason) Check(Hello hello, HelloAcceptOptions options, System.Security.Cryptography.X509Certificates.X509Certificate2? certificate)
    {
        if (hello.ProtocolVersion != ProtocolVersion.Current)
        {
            return (ProtocolErrorKind.VersionMismatch, $"protocol version {hello.ProtocolVersion} is not supported; this agent speaks {ProtocolVersion.Current}");
        }

        if (!options.AllowedRoles.Contains(hello.Role))
        {
            return (ProtocolErrorKind.HandshakeRejected, $"role {hello.Role} is not accepted on this port (accepted: {string.Join(", ", options.AllowedRoles)})");
        }

        if (hello.Role == ConnectionRole.Peer && hello.NodeId == 0)
        {
            return (ProtocolErrorKind.HandshakeRejected, "a peer must send its node id");
        }

        if (hello.Role == ConnectionRole.Peer && certificate is not null)
        {
            if (NodeIdentity.IsClientCertificate(certificate))
            {
                return (ProtocolErrorKind.HandshakeRejected, $"the peer's certificate ({certificate.Subject}) is a client certificate ({NodeIdentity.ClientUriPrefix}NAME), which never speaks as a node");
            }

            if (NodeIdentity.TryGetNodeId(certificate, out var certified))
            {
                if (certified != hello.NodeId)
                {
                    return (ProtocolErrorKind.HandshakeRejected, $"the peer's certificate names node {certified}, its Hello node {hello.NodeId}");
                }
            }
            else if (options.RequirePeerNodeIdInCertificate)
            {
                return (ProtocolErrorKind.HandshakeRejected, $"the peer's certificate ({certificate.Subject}) names no node id ({NodeIdentity.UriPrefix}ID), which this agent requires");
            }
        }

        if (hello.ClusterId.Length > 0 && options.ClusterId.Length > 0 && !string.Equals(hello.ClusterId, options.ClusterId, StringComparison.Ordinal))
        {
            return (ProtocolErrorKind.HandshakeRejected, $"cluster '{hello.ClusterId}' is not this agent's cluster '{options.ClusterId}'");
        }

        if (hello.Role == ConnectionRole.Peer && options.ClusterId.Length > 0 && hello.ClusterId.Length == 0)
        {
            return (ProtocolErrorKind.HandshakeRejected, "a peer must send the cluster id");
        }

        if (hello.Role == ConnectionRole.Client && options.AuthenticateClient?.Invoke(hello, certificate) is { } refusal)
        {
            return (ProtocolErrorKind.Unauthenticated, refusal);
        }

        return (ProtocolErrorKind.Malformed, null);
    }

    private static HelloAck Ack(HelloAcceptOptions options, bool accepted, string reason) => new()
    {
        ProtocolVersion = ProtocolVersion.Current,
        NodeId = options.LocalNodeId,
        ClusterId = options.ClusterId,
        Accepted = accepted,
        Reason = reason,
    };
}
