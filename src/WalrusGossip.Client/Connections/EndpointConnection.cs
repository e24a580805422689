using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Client.Connections;

/// <summary>
/// One multiplexed connection to an agent's client port. Any number of requests may wait on it at once: each gets a
/// fresh request id and a pending completion; one reader task receives every frame and completes the request whose
/// id the response echoes. When the connection fails, every waiting request fails with
/// <see cref="ConnectionLostException"/> and the owner opens a new connection for the next request.
/// </summary>
internal sealed partial class EndpointConnection : IAsyncDisposable
{
    private readonly IFrameConnection _connection;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<(MessageType Type, IMessage Message)>> _pending = new();
    private readonly ConcurrentDictionary<ulong, ChannelWriter<TailEntries>> _streams = new();
    private readonly CancellationTokenSource _stop = new();
    private Task _reader = Task.CompletedTask;
    private long _nextRequestId;
    private Exception? _failure;
    private int _disposed;

    private EndpointConnection(IFrameConnection connection, string endpoint, ulong nodeId, ILogger logger)
    {
        _connection = connection;
        Endpoint = endpoint;
        NodeId = nodeId;
        _logger = logger;
    }

    /// <summary>The endpoint (<c>host:port</c>) this connection goes to.</summary>
    public string Endpoint { get; }

    /// <summary>Node id the agent reported in its HelloAck.</summary>
    public ulong NodeId { get; }

    /// <summary>False once the connection has failed or been disposed.</summary>
    public bool IsOpen => Volatile.Read(ref _failure) is null && Volatile.Read(ref _disposed) == 0;

    /// <summary>Connects, runs the TLS and Hello handshakes, and starts the reader.</summary>
    /// <param name="transport">The transport.</param>
    /// <param name="address">Where to connect.</param>
    /// <param name="options">Client settings (timeouts, client name).</param>
    /// <param name="logger">Logger.</param>
    /// <param name="cancellationToken">Cancels the attempt.</param>
    /// <returns>The open connection.</returns>
    /// <exception cref="TimeoutException">Connecting and handshaking took longer than <see cref="WalrusClientOptions.ConnectTimeout"/>.</exception>
    /// <exception cref="ProtocolException">The agent refused the Hello or answered out of protocol.</exception>
    /// <exception cref="IOException">The connection was refused or lost.</exception>
    public static async Task<EndpointConnection> OpenAsync(
        ITransport transport, EndpointAddress address, WalrusClientOptions options, ILogger logger, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        IFrameConnection? connection = null;
        try
        {
            connection = await transport.ConnectAsync(address.Host, address.Port, timeout.Token).ConfigureAwait(false);
            var hello = new Hello
            {
                ProtocolVersion = ProtocolVersion.Current,
                Role = ConnectionRole.Client,
                Name = options.ClientName,
            };
            var ack = await HelloHandshake.ConnectAsync(connection, hello, timeout.Token).ConfigureAwait(false);
            var result = new EndpointConnection(connection, address.ToString(), ack.NodeId, logger);
            result._reader = Task.Run(result.ReadLoopAsync, CancellationToken.None);
            connection = null;
            return result;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"connecting to {address} took longer than {options.ConnectTimeout.TotalSeconds:0.###} s");
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Sends a request and waits for the response with the same request id.</summary>
    /// <param name="type">The request's message type.</param>
    /// <param name="request">The request; its request id is overwritten.</param>
    /// <param name="cancellationToken">Stops waiting (the response, if it arrives later, is dropped).</param>
    /// <returns>The response frame.</returns>
    /// <exception cref="ConnectionLostException">The connection failed before the response arrived.</exception>
    public async Task<(MessageType Type, IMessage Message)> RequestAsync(MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        ResponseInfo.SetRequestId(request, id);
        var pending = new TaskCompletionSource<(MessageType, IMessage)>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[id] = pending;
        try
        {
            ThrowIfFailed();
            await SendAsync(type, request, cancellationToken).ConfigureAwait(false);
            return await pending.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(id, out _);
        }
    }

    /// <summary>Sends a tail request; its TailEntries frames are written to <paramref name="sink"/> until the connection ends.</summary>
    /// <param name="request">The tail request; its request id is overwritten.</param>
    /// <param name="sink">Receives the frames; completed (with the failure, if any) when the connection ends.</param>
    /// <param name="cancellationToken">Cancels the send.</param>
    /// <returns>A task that completes when the request has been sent.</returns>
    public async Task StartTailAsync(TailRequest request, ChannelWriter<TailEntries> sink, CancellationToken cancellationToken)
    {
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        request.RequestId = id;
        _streams[id] = sink;
        ThrowIfFailed();
        await SendAsync(MessageType.TailRequest, request, cancellationToken).ConfigureAwait(false);
    }

    private async Task SendAsync(MessageType type, IMessage request, CancellationToken cancellationToken)
    {
        try
        {
            await _connection.SendAsync(type, request, cancellationToken).ConfigureAwait(false);
        }
        catch (ObjectDisposedException e)
        {
            throw new ConnectionLostException($"connection to {Endpoint} is closed", e);
        }
        catch (ProtocolException e) when (e.Kind == ProtocolErrorKind.FrameTooLarge)
        {
            throw new WalrusInvalidArgumentException($"request too large: {e.Message}", e);
        }
    }

    private void ThrowIfFailed()
    {
        if (Volatile.Read(ref _failure) is { } failure)
        {
            throw new ConnectionLostException($"connection to {Endpoint} failed: {failure.Message}", failure);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new ConnectionLostException($"connection to {Endpoint} is closed");
        }
    }

    private async Task ReadLoopAsync()
    {
        Exception failure;
        try
        {
            while (true)
            {
                var frame = await _connection.ReceiveAsync(_stop.Token).ConfigureAwait(false);
                if (frame is not { } f)
                {
                    failure = new ConnectionLostException($"{Endpoint} closed the connection");
                    break;
                }

                await DispatchAsync(f.Type, f.Message).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException && _stop.IsCancellationRequested)
        {
            failure = new ConnectionLostException($"connection to {Endpoint} closed by the client", e);
        }
        catch (Exception e)
        {
            failure = new ConnectionLostException($"connection to {Endpoint} failed: {e.Message}", e);
            LogConnectionFailed(_logger, Endpoint, e.Message);
        }

        Fail(failure);
    }

    private async ValueTask DispatchAsync(MessageType type, IMessage message)
    {
        if (ResponseInfo.Of(type, message) is not { } info)
        {
            throw new ProtocolException(ProtocolErrorKind.UnexpectedMessage, $"{Endpoint} sent {type} on a client connection");
        }

        if (type == MessageType.TailEntries)
        {
            if (_streams.TryGetValue(info.RequestId, out var sink))
            {
                // Bounded channel: a slow consumer stops this reader, which lets TCP flow control slow the agent.
                await sink.WriteAsync((TailEntries)message, _stop.Token).ConfigureAwait(false);
            }

            return;
        }

        if (_pending.TryRemove(info.RequestId, out var pending))
        {
            pending.TrySetResult((type, message));
        }
    }

    private void Fail(Exception failure)
    {
        Interlocked.CompareExchange(ref _failure, failure, null);
        foreach (var id in _pending.Keys)
        {
            if (_pending.TryRemove(id, out var pending))
            {
                pending.TrySetException(failure);
            }
        }

        foreach (var id in _streams.Keys)
        {
            if (_streams.TryRemove(id, out var sink))
            {
                sink.TryComplete(failure);
            }
        }

        _ = _connection.DisposeAsync().AsTask();
    }

    /// <summary>Closes the connection; waiting requests fail with <see cref="ConnectionLostException"/>.</summary>
    /// <returns>A task that completes when the reader has stopped.</returns>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        await _reader.ConfigureAwait(false);
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "walrus client: connection to {Endpoint} failed: {Reason}")]
    private static partial void LogConnectionFailed(ILogger logger, string endpoint, string reason);
}
