using System.Collections.Concurrent;
using System.Threading.Channels;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using Polly.Timeout;
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
/// <remarks>
/// A request may carry a deadline instead of a cancellation timer (<see cref="RequestAsync(MessageType, IMessage, TimeSpan, CancellationToken)"/>):
/// one timer per connection, armed only while such requests wait, sweeps the waiting requests every
/// <see cref="SweepPeriod"/> and fails the overdue ones with <see cref="TimeoutRejectedException"/>, the exception the
/// client's per-attempt timeout strategy throws. A request therefore times out between its deadline and one period
/// later, at the cost of no timer and no cancellation registration per request.
/// </remarks>
internal sealed partial class EndpointConnection : IAsyncDisposable
{
    private readonly IFrameConnection _connection;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<ulong, PendingRequest> _pending = new();
    private readonly ConcurrentDictionary<ulong, ChannelWriter<TailEntries>> _streams = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Timer _sweep;
    private readonly TimeSpan _sweepPeriod;
    private int _sweepArmed;
    private Task _reader = Task.CompletedTask;
    private long _nextRequestId;
    private Exception? _failure;
    private int _disposed;

    private EndpointConnection(IFrameConnection connection, string endpoint, ulong nodeId, TimeSpan requestTimeout, ILogger logger)
    {
        _connection = connection;
        Endpoint = endpoint;
        NodeId = nodeId;
        _logger = logger;
        _sweepPeriod = SweepPeriodFor(requestTimeout);
        using (ExecutionContext.SuppressFlow())
        {
            _sweep = new Timer(static state => ((EndpointConnection)state!).Sweep(), this, Timeout.Infinite, Timeout.Infinite);
        }
    }

    /// <summary>How often overdue requests are looked for while requests with a deadline wait.</summary>
    public TimeSpan SweepPeriod => _sweepPeriod;

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
    /// <exception cref="WalrusAuthenticationException">The agent refused the client's credentials.</exception>
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
                Token = options.Token ?? "",
            };
            HelloAck ack;
            try
            {
                ack = await HelloHandshake.ConnectAsync(connection, hello, timeout.Token).ConfigureAwait(false);
            }
            catch (ProtocolException e) when (e.Kind == ProtocolErrorKind.Unauthenticated)
            {
                throw new WalrusAuthenticationException(e.Message, e); // not a connection failure: every agent would refuse alike
            }

            var result = Start(connection, address.ToString(), ack.NodeId, options.RequestTimeout, logger);
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

    /// <summary>Wraps a connection whose Hello handshake is done and starts its reader. Tests use it with fake connections.</summary>
    /// <param name="connection">The connection; owned from now on.</param>
    /// <param name="endpoint">Its endpoint, <c>host:port</c>.</param>
    /// <param name="nodeId">The node id the agent reported.</param>
    /// <param name="requestTimeout">The client's per-attempt timeout, which sets <see cref="SweepPeriod"/>.</param>
    /// <param name="logger">Logger.</param>
    /// <returns>The running connection.</returns>
    internal static EndpointConnection Start(IFrameConnection connection, string endpoint, ulong nodeId, TimeSpan requestTimeout, ILogger logger)
    {
        var result = new EndpointConnection(connection, endpoint, nodeId, requestTimeout, logger);
        result._reader = Task.Run(result.ReadLoopAsync, CancellationToken.None);
        return result;
    }

    /// <summary>Sends a request and waits for the response with the same request id.</summary>
    /// <param name="type">The request's message type.</param>
    /// <param name="request">The request; its request id is overwritten.</param>
    /// <param name="cancellationToken">Stops waiting (the response, if it arrives later, is dropped).</param>
    /// <returns>The response frame.</returns>
    /// <exception cref="ConnectionLostException">The connection failed before the response arrived.</exception>
    public Task<(MessageType Type, IMessage Message)> RequestAsync(MessageType type, IMessage request, CancellationToken cancellationToken) =>
        RequestAsync(type, request, Timeout.InfiniteTimeSpan, cancellationToken);

    /// <summary>
    /// Sends a request and waits for the response with the same request id, at most <paramref name="timeout"/>
    /// (give or take one <see cref="SweepPeriod"/>), without a timer or cancellation registration of its own.
    /// </summary>
    /// <param name="type">The request's message type.</param>
    /// <param name="request">The request; its request id is overwritten.</param>
    /// <param name="timeout">How long to wait for the response, from now; <see cref="Timeout.InfiniteTimeSpan"/> for no limit.</param>
    /// <param name="cancellationToken">Stops waiting (the response, if it arrives later, is dropped).</param>
    /// <returns>The response frame.</returns>
    /// <exception cref="ConnectionLostException">The connection failed before the response arrived, or the frame
    /// was still being written when the deadline passed (the connection is then aborted, as a cancelled write is).</exception>
    /// <exception cref="TimeoutRejectedException">No response within <paramref name="timeout"/>.</exception>
    public async Task<(MessageType Type, IMessage Message)> RequestAsync(MessageType type, IMessage request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var id = (ulong)Interlocked.Increment(ref _nextRequestId);
        ResponseInfo.SetRequestId(request, id);
        var pending = timeout == Timeout.InfiniteTimeSpan
            ? new PendingRequest(0, timeout)
            : new PendingRequest(Math.Max(1, Environment.TickCount64 + (long)Math.Ceiling(timeout.TotalMilliseconds)), timeout);
        _pending[id] = pending;
        try
        {
            ThrowIfFailed();
            if (pending.Deadline != 0)
            {
                ArmSweep();
            }

            var send = SendAsync(type, request, cancellationToken);
            if (!send.IsCompletedSuccessfully)
            {
                if (pending.Deadline == 0 || send.IsCompleted)
                {
                    await send.ConfigureAwait(false);
                }
                else
                {
                    await SendWithinDeadlineAsync(send, pending).ConfigureAwait(false);
                }
            }

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

    /// <summary>
    /// Waits for a send that did not complete at once, but no longer than the request's deadline: a frame still being
    /// written then means a stalled connection, which is aborted (as a write cancelled by a per-attempt timeout was).
    /// </summary>
    private async Task SendWithinDeadlineAsync(Task send, PendingRequest pending)
    {
        await Task.WhenAny(send, pending.Task).ConfigureAwait(false);
        if (send.IsCompleted)
        {
            await send.ConfigureAwait(false);
            return;
        }

        _ = send.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        if (pending.Task.IsFaulted && pending.Task.Exception?.InnerException is TimeoutRejectedException)
        {
            Fail(new ConnectionLostException($"connection to {Endpoint} aborted: a request was still being written after {pending.Timeout.TotalSeconds:0.###} s"));
        }
    }

    private void ArmSweep()
    {
        // Full fence: either the sweep that stops the timer sees this request in _pending, or this sees it stopped.
        if (Interlocked.CompareExchange(ref _sweepArmed, 1, 0) == 0)
        {
            ChangeSweep(_sweepPeriod);
        }
    }

    private void ChangeSweep(TimeSpan period)
    {
        try
        {
            _sweep.Change(period, period);
        }
        catch (ObjectDisposedException)
        {
            // the connection failed or was disposed: every waiting request has been failed already
        }
    }

    /// <summary>Fails the requests whose deadline has passed; stops the timer when no request with a deadline waits.</summary>
    private void Sweep()
    {
        if (SweepOnce(Environment.TickCount64))
        {
            return;
        }

        ChangeSweep(Timeout.InfiniteTimeSpan);
        Interlocked.Exchange(ref _sweepArmed, 0);
        if (SweepOnce(Environment.TickCount64) && Interlocked.CompareExchange(ref _sweepArmed, 1, 0) == 0)
        {
            ChangeSweep(_sweepPeriod); // a request registered while the timer was being stopped
        }
    }

    /// <summary>One pass over the waiting requests.</summary>
    /// <returns>Whether requests with a deadline still wait.</returns>
    private bool SweepOnce(long now)
    {
        var waiting = false;
        foreach (var (id, pending) in _pending)
        {
            if (pending.Deadline == 0)
            {
                continue;
            }

            if (now < pending.Deadline)
            {
                waiting = true;
            }
            else if (_pending.TryRemove(id, out _))
            {
                pending.TrySetException(new TimeoutRejectedException(
                    $"{Endpoint}: no answer within the allowed timeout of '{pending.Timeout}'.", pending.Timeout));
            }
        }

        return waiting;
    }

    private static TimeSpan SweepPeriodFor(TimeSpan requestTimeout)
    {
        var period = requestTimeout / 16;
        return period < TimeSpan.FromMilliseconds(10) ? TimeSpan.FromMilliseconds(10)
            : period > TimeSpan.FromMilliseconds(250) ? TimeSpan.FromMilliseconds(250)
            : period;
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
        _sweep.Dispose();
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
        await _sweep.DisposeAsync().ConfigureAwait(false);
        await _connection.DisposeAsync().ConfigureAwait(false);
        await _reader.ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>A request waiting for its response, with its deadline (<see cref="Environment.TickCount64"/>; 0 for none).</summary>
    private sealed class PendingRequest(long deadline, TimeSpan timeout)
        : TaskCompletionSource<(MessageType Type, IMessage Message)>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        public long Deadline { get; } = deadline;

        public TimeSpan Timeout { get; } = timeout;
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Debug, Message = "walrus client: connection to {Endpoint} failed: {Reason}")]
    private static partial void LogConnectionFailed(ILogger logger, string endpoint, string reason);
}
