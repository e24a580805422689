using System.Net;
using System.Threading.Channels;

namespace WalrusGossip.Transport;

/// <summary>
/// What the TCP and QUIC listeners share: a background accept loop that hands finished handshakes to
/// <see cref="AcceptAsync"/> through a queue, at most <see cref="TransportOptions.MaxPendingConnections"/> connections
/// between accept and <see cref="AcceptAsync"/> at once, and a disposal that stops the loop and closes whatever
/// was accepted but never taken. Subclasses supply the accept loop and how to close their listening socket.
/// </summary>
internal abstract class FrameListenerBase : IFrameListener
{
    private readonly Channel<IFrameConnection> _ready = Channel.CreateUnbounded<IFrameConnection>();
    private readonly CancellationTokenSource _stop = new();
    private Task _acceptLoop = Task.CompletedTask;
    private int _disposed;

    /// <summary>Creates the shared state; the subclass calls <see cref="StartAccepting"/> once its own fields are set.</summary>
    /// <param name="maxPendingConnections">Most connections between accept and <see cref="AcceptAsync"/>.</param>
    /// <param name="localEndPoint">The bound address.</param>
    protected FrameListenerBase(int maxPendingConnections, IPEndPoint localEndPoint)
    {
        PendingSlots = new SemaphoreSlim(maxPendingConnections, maxPendingConnections);
        LocalEndPoint = localEndPoint;
    }

    public IPEndPoint LocalEndPoint { get; }

    /// <summary>One slot per connection between accept and <see cref="AcceptAsync"/>: the loop takes one before accepting and releases it when a handshake fails.</summary>
    protected SemaphoreSlim PendingSlots { get; }

    public async ValueTask<IFrameConnection> AcceptAsync(CancellationToken cancellationToken)
    {
        try
        {
            var connection = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            PendingSlots.Release();
            return connection;
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(GetType().Name, "the listener was disposed");
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await CloseListenerAsync().ConfigureAwait(false);
        await _acceptLoop.ConfigureAwait(false);
        _ready.Writer.TryComplete();
        while (_ready.Reader.TryRead(out var connection))
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        _stop.Dispose();
    }

    /// <summary>Starts the accept loop; called at the end of the subclass constructor.</summary>
    protected void StartAccepting()
    {
        var token = _stop.Token;
        _acceptLoop = Task.Run(() => AcceptLoopAsync(token));
    }

    /// <summary>Accepts until <paramref name="stopping"/> is cancelled, handing each handshaken connection to <see cref="OfferAsync"/>.</summary>
    /// <param name="stopping">Cancelled when the listener is disposed.</param>
    /// <returns>A task that completes when the loop ends.</returns>
    protected abstract Task AcceptLoopAsync(CancellationToken stopping);

    /// <summary>Closes the listening socket or QUIC listener, which ends a pending accept.</summary>
    /// <returns>A task that completes when it is closed.</returns>
    protected abstract ValueTask CloseListenerAsync();

    /// <summary>Queues a connection whose handshake succeeded for <see cref="AcceptAsync"/>, or closes it (and frees its slot) when the listener is closing.</summary>
    /// <param name="connection">The connection.</param>
    /// <returns>True when queued.</returns>
    protected async ValueTask<bool> OfferAsync(IFrameConnection connection)
    {
        if (_ready.Writer.TryWrite(connection))
        {
            return true;
        }

        PendingSlots.Release();
        await connection.DisposeAsync().ConfigureAwait(false);
        return false;
    }
}
