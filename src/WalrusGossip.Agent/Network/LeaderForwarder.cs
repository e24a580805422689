using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace WalrusGossip.Agent.Network;

/// <summary>
/// Forwards appends that reach a follower to the leader's client port, keeping the client's (client id, sequence)
/// so deduplication still holds, and relays the leader's answer. One multiplexed connection per leader address,
/// reopened when the leader changes or the connection fails. When forwarding fails the caller answers NOT_LEADER and
/// the SDK redirects by itself.
/// </summary>
public sealed partial class LeaderForwarder : IAsyncDisposable
{
    private static readonly TimeSpan ForwardTimeout = TimeSpan.FromSeconds(5);
    private readonly ITransport _transport;

    /// <summary>The transport forwarded appends travel on (its certificate is reloaded with the agent's).</summary>
    public ITransport Transport => _transport;
    private readonly ulong _nodeId;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectGate = new(1, 1);
    private readonly ConcurrentDictionary<ulong, TaskCompletionSource<AppendResponse>> _pending = new();
    private readonly CancellationTokenSource _stop = new();
    private IFrameConnection? _connection;
    private string? _address;
    private long _nextRequestId;

    /// <summary>Creates the forwarder.</summary>
    /// <param name="transport">The client-side transport (trusts the cluster CA).</param>
    /// <param name="nodeId">This agent's id, sent in Hello.</param>
    /// <param name="logger">Diagnostics.</param>
    public LeaderForwarder(ITransport transport, ulong nodeId, ILogger logger)
    {
        _transport = transport;
        _nodeId = nodeId;
        _logger = logger;
    }

    /// <summary>Sends <paramref name="request"/> to the leader at <paramref name="leaderAddress"/> and returns its answer.</summary>
    /// <param name="leaderAddress">host:port of the leader's client listener.</param>
    /// <param name="request">The client's request; not modified.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The leader's response with the client's request id, or null when forwarding failed.</returns>
    public async Task<AppendResponse?> ForwardAsync(string leaderAddress, AppendRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var id = Interlocked.Increment(ref _nextRequestId);
        var forwarded = request.Clone();
        forwarded.RequestId = (ulong)id;
        var waiter = new TaskCompletionSource<AppendResponse>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pending[(ulong)id] = waiter;
        try
        {
            var connection = await ConnectAsync(leaderAddress, cancellationToken).ConfigureAwait(false);
            await connection.SendAsync(MessageType.AppendRequest, forwarded, cancellationToken).ConfigureAwait(false);
            var response = await waiter.Task.WaitAsync(ForwardTimeout, cancellationToken).ConfigureAwait(false);
            var relayed = response.Clone();
            relayed.RequestId = request.RequestId;
            return relayed;
        }
        catch (Exception e) when (e is IOException or TimeoutException or ProtocolException or OperationCanceledException or ObjectDisposedException or System.Security.Authentication.AuthenticationException or System.Net.Sockets.SocketException)
        {
            LogForwardFailed(_logger, leaderAddress, e.Message);
            return null;
        }
        finally
        {
            _pending.TryRemove((ulong)id, out _);
        }
    }

    /// <summary>Closes the connection to the leader.</summary>
    /// <returns>A task that completes when closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        _connectGate.Dispose();
        _stop.Dispose();
    }

    private async Task<IFrameConnection> ConnectAsync(string address, CancellationToken cancellationToken)
    {
        await _connectGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_connection is not null && _address == address)
            {
                return _connection;
            }

            if (_connection is not null)
            {
                await _connection.DisposeAsync().ConfigureAwait(false);
                _connection = null;
            }

            if (!Configuration.AgentOptions.TryParseHostPort(address, out var host, out var port))
            {
                throw new IOException($"bad leader address '{address}'");
            }

            var connection = await _transport.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(ForwardTimeout);
            await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Client, NodeId = _nodeId, Name = $"forwarder-{_nodeId}" }, timeout.Token).ConfigureAwait(false);
            _connection = connection;
            _address = address;
            _ = Task.Run(() => ReadResponsesAsync(connection));
            return connection;
        }
        finally
        {
            _connectGate.Release();
        }
    }

    private async Task ReadResponsesAsync(IFrameConnection connection)
    {
        try
        {
            while (await connection.ReceiveAsync(_stop.Token).ConfigureAwait(false) is { } frame)
            {
                if (frame.Message is AppendResponse response && _pending.TryRemove(response.RequestId, out var waiter))
                {
                    waiter.TrySetResult(response);
                }
            }
        }
        catch (Exception e) when (e is IOException or ProtocolException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
        {
        }

        await _connectGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_connection == connection)
            {
                _connection = null;
                _address = null;
            }
        }
        finally
        {
            _connectGate.Release();
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Debug, Message = "forwarding an append to the leader at {Address} failed: {Reason}")]
    private static partial void LogForwardFailed(ILogger logger, string address, string reason);
}
