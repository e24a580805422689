using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport;

/// <summary>Handles one frame received by a <see cref="FrameServer"/>.</summary>
/// <param name="session">The connection it came from.</param>
/// <param name="type">The frame's message type.</param>
/// <param name="message">The parsed message.</param>
/// <param name="cancellationToken">Cancelled when the session closes.</param>
/// <returns>A task; the session reads its next frame when it completes, so hand long work off and answer later
/// through <see cref="FrameSession.SendAsync"/>. Throwing <see cref="ProtocolException"/> closes the session as a
/// protocol error; any other exception closes it as a handler failure.</returns>
public delegate ValueTask FrameHandler(FrameSession session, MessageType type, IMessage message, CancellationToken cancellationToken);

/// <summary>One accepted connection of a <see cref="FrameServer"/> after its <see cref="Protocol.Messages.Hello"/> was accepted.</summary>
public sealed class FrameSession
{
    internal FrameSession(long id, IFrameConnection connection, Hello hello, CancellationToken closed)
    {
        Id = id;
        Connection = connection;
        Hello = hello;
        Closed = closed;
    }

    /// <summary>What the message handler keeps about this session (for example the client's authenticated principal); null until it sets it.</summary>
    public object? State { get; set; }

    /// <summary>Server-unique session number, for logs and for keying per-session state (tails, forwarded requests).</summary>
    public long Id { get; }

    /// <summary>The connection. Send through it from any thread; the server owns receiving and closing.</summary>
    public IFrameConnection Connection { get; }

    /// <summary>The hello the other side sent: its role, node id, name and cluster.</summary>
    public Hello Hello { get; }

    /// <summary>Cancelled when the session closes, for work started on its behalf (for example a tail).</summary>
    public CancellationToken Closed { get; }

    /// <summary>Sends a frame on this session; see <see cref="IFrameConnection.SendAsync"/>.</summary>
    /// <param name="type">The message type.</param>
    /// <param name="message">The body.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>A task that completes when the frame is sent.</returns>
    public ValueTask SendAsync(MessageType type, IMessage message, CancellationToken cancellationToken) =>
        Connection.SendAsync(type, message, cancellationToken);
}
