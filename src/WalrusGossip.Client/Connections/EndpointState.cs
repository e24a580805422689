using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.CircuitBreaker;
using WalrusGossip.Protocol;
using WalrusGossip.Transport;

namespace WalrusGossip.Client.Connections;

/// <summary>
/// Everything the client keeps per endpoint: the current multiplexed connection (opened on first use and again after
/// it fails) and a circuit breaker that, after repeated connection failures, makes requests skip the endpoint for
/// <see cref="WalrusClientOptions.CircuitBreakDuration"/>.
/// </summary>
internal sealed class EndpointState : IAsyncDisposable
{
    private readonly ITransport _transport;
    private readonly WalrusClientOptions _options;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _connectLock = new(1, 1);
    private readonly CircuitBreakerStateProvider _breakerState = new();
    private EndpointConnection? _connection;
    private bool _disposed;

    public EndpointState(EndpointAddress address, ITransport transport, WalrusClientOptions options, ILogger logger)
    {
        Address = address;
        Key = address.ToString();
        _transport = transport;
        _options = options;
        _logger = logger;
        Breaker = new ResiliencePipelineBuilder()
            .AddCircuitBreaker(new CircuitBreakerStrategyOptions
            {
                FailureRatio = 0.5,
                MinimumThroughput = 3,
                SamplingDuration = TimeSpan.FromSeconds(10),
                BreakDuration = options.CircuitBreakDuration,
                ShouldHandle = static args => ValueTask.FromResult(args.Outcome.Exception is EndpointConnectException),
                StateProvider = _breakerState,
            })
            .Build();
    }

    /// <summary>Where this endpoint is.</summary>
    public EndpointAddress Address { get; }

    /// <summary>Canonical <c>host:port</c>.</summary>
    public string Key { get; }

    /// <summary>
    /// The endpoint's circuit breaker; run every request to it through this pipeline. It counts failures to connect
    /// (<see cref="EndpointConnectException"/>), not requests lost with a connection that died.
    /// </summary>
    public ResiliencePipeline Breaker { get; }

    /// <summary>True while the circuit is open (recent failures to connect); requests should prefer other endpoints.</summary>
    public bool IsBroken => _breakerState.CircuitState is CircuitState.Open or CircuitState.Isolated;

    /// <summary>
    /// The open connection when a request may skip the breaker pipeline: the circuit is closed and a connection is
    /// open (so the request cannot fail to connect, the only outcome the breaker counts). Null otherwise: the caller
    /// then goes through <see cref="Breaker"/>, which connects and counts.
    /// </summary>
    /// <returns>The open connection, or null.</returns>
    public EndpointConnection? OpenConnectionIfHealthy() =>
        Volatile.Read(ref _connection) is { IsOpen: true } connection && _breakerState.CircuitState == CircuitState.Closed ? connection : null;

    /// <summary>True for failures of the connection itself (as opposed to an agent's answer).</summary>
    /// <param name="exception">The failure.</param>
    /// <returns>Whether another endpoint, or a new connection, may succeed.</returns>
    public static bool IsConnectionFailure(Exception exception) =>
        exception is IOException or SocketException or AuthenticationException or ProtocolException or TimeoutException or ObjectDisposedException;

    /// <summary>Returns the open connection, connecting first when there is none.</summary>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>An open connection (it may still fail at any moment).</returns>
    public async ValueTask<EndpointConnection> GetConnectionAsync(CancellationToken cancellationToken)
    {
        var current = Volatile.Read(ref _connection);
        if (current is { IsOpen: true })
        {
            return current;
        }

        await _connectLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        EndpointConnection? stale = null;
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            current = _connection;
            if (current is { IsOpen: true })
            {
                return current;
            }

            stale = current;
            var opened = await OpenAsync(cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _connection, opened);
            return opened;
        }
        finally
        {
            _connectLock.Release();
            if (stale is not null)
            {
                await stale.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Opens a connection of its own (not shared), for a tail subscription that lives as long as its consumer.</summary>
    /// <param name="cancellationToken">Cancels connecting.</param>
    /// <returns>The connection; the caller disposes it.</returns>
    public Task<EndpointConnection> OpenDedicatedAsync(CancellationToken cancellationToken) => OpenAsync(cancellationToken);

    private async Task<EndpointConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await EndpointConnection.OpenAsync(_transport, Address, _options, _logger, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (IsConnectionFailure(e) && !cancellationToken.IsCancellationRequested)
        {
            throw new EndpointConnectException(e.Message, e);
        }
    }

    /// <summary>Closes the current connection.</summary>
    /// <returns>A task that completes when it is closed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _connectLock.WaitAsync().ConfigureAwait(false);
        EndpointConnection? connection;
        try
        {
            _disposed = true;
            connection = _connection;
            _connection = null;
        }
        finally
        {
            _connectLock.Release();
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }
}
