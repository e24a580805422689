using System.Net;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport;

/// <summary>
/// One authenticated connection carrying frames in both directions. Sends may come from any number of threads
/// (they are serialized); receives must come from one reader at a time.
/// </summary>
public interface IFrameConnection : IAsyncDisposable
{
    /// <summary>The other side's address.</summary>
    EndPoint RemoteEndPoint { get; }

    /// <summary>The certificate the other side presented in the TLS handshake, or null when it presented none.</summary>
    X509Certificate2? RemoteCertificate { get; }

    /// <summary>Encodes and sends one frame. Safe to call concurrently.</summary>
    /// <param name="type">The message type; must match <paramref name="message"/>.</param>
    /// <param name="message">The body.</param>
    /// <param name="cancellationToken">Cancels the send. A send cancelled after it started writing leaves the
    /// connection mid-frame, so the connection is aborted.</param>
    /// <returns>A task that completes when the frame has been handed to the network, or queued behind a write in
    /// progress: frames queued meanwhile leave in call order as one write (coalescing). Callers wait while more than
    /// 8 MiB are queued (back-pressure). A write that fails aborts the connection, and later sends throw.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/>: the message exceeds MaxFrameBytes; nothing was sent.</exception>
    /// <exception cref="System.IO.IOException">The connection is lost.</exception>
    /// <exception cref="ObjectDisposedException">The connection was disposed or aborted.</exception>
    ValueTask SendAsync(MessageType type, IMessage message, CancellationToken cancellationToken);

    /// <summary>
    /// Encodes a frame and queues it without waiting and without writing on the calling thread: a thread-pool writer
    /// sends it with whatever else is queued. For callers that must not block or do I/O (the agent's node loop
    /// answering clients). No back-pressure: the caller bounds what it posts (one answer per request read).
    /// </summary>
    /// <param name="type">The message type; must match <paramref name="message"/>.</param>
    /// <param name="message">The body.</param>
    /// <returns>False when the connection is closed or broken; the frame was dropped.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.FrameTooLarge"/>: the message exceeds MaxFrameBytes; nothing was queued.</exception>
    bool Post(MessageType type, IMessage message);

    /// <summary>Receives the next frame. Not safe to call concurrently.</summary>
    /// <param name="cancellationToken">Cancels the receive; the connection may then be inside a frame, so further
    /// receives throw <see cref="InvalidOperationException"/> and the caller must close it.</param>
    /// <returns>The frame, or null when the other side closed the connection cleanly between frames.</returns>
    /// <exception cref="ProtocolException">The bytes violate the protocol; the caller must close the connection.
    /// The error is already counted in <see cref="TransportCounters"/>.</exception>
    /// <exception cref="System.IO.IOException">The connection is lost.</exception>
    ValueTask<(MessageType Type, IMessage Message)?> ReceiveAsync(CancellationToken cancellationToken);
}
