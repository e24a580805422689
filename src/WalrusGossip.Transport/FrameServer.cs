using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport;

/// <summary>
/// Serves a listener: for each connection, runs the <see cref="HelloHandshake"/>, then reads frames and hands them
/// to a <see cref="FrameHandler"/>. A connection that violates the protocol (oversized length prefix, truncated
/// frame, unknown type, unparseable body, wrong version) is closed with a logged reason and counted in
/// <see cref="TransportCounters"/>; every other connection keeps being served.
/// </summary>
public sealed partial class FrameServer
{
    private readonly IFrameListener _listener;
    private readonly FrameServerOptions _options;
    private readonly FrameHandler _handler;
    private readonly TransportCounters _counters;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<long, Task> _sessions = new();
    private long _nextSessionId;

    /// <summary>Creates a server; nothing happens until <see cref="RunAsync"/>.</summary>
    /// <param name="listener">Where connections come from; not disposed by the server.</param>
    /// <param name="options">Handshake and limits.</param>
    /// <param name="handler">Receives every frame after the handshake.</param>
    /// <param name="counters">Where protocol errors are counted (normally <see cref="ITransport.Counters"/>).</param>
    /// <param name="logger">Logger for closed connections.</param>
    public FrameServer(IFrameListener listener, FrameServerOptions options, FrameHandler handler, TransportCounters counters, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentNullException.ThrowIfNull(counters);
        ArgumentNullException.ThrowIfNull(logger);
        _listener = listener;
        _options = options;
        _handler = handler;
        _counters = counters;
        _logger = logger;
    }

    /// <summary>Connections currently being served (handshaking or in session).</summary>
    public int ActiveConnections => _sessions.Count;

    /// <summary>Accepts and serves connections until <paramref name="cancellationToken"/> is cancelled, then closes them all.</summary>
    /// <param name="cancellationToken">Stops the server.</param>
    /// <returns>A task that completes when every session has closed.</returns>
    /// <exception cref="ObjectDisposedException">The listener was disposed while the server was running.</exception>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                IFrameConnection connection;
                try
                {
                    connection = await _listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                if (_sessions.Count >= _options.MaxConnections)
                {
                    LogTooManyConnections(_logger, connection.RemoteEndPoint, _options.MaxConnections);
                    await connection.DisposeAsync().ConfigureAwait(false);
                    continue;
                }

                var id = Interlocked.Increment(ref _nextSessionId);
                var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var serving = ServeAsync(id, connection, gate.Task, cancellationToken);
                _sessions[id] = serving;
                gate.SetResult();
            }
        }
        finally
        {
            await Task.WhenAll(_sessions.Values).ConfigureAwait(false);
        }
    }

    private async Task ServeAsync(long id, IFrameConnection connection, Task registered, CancellationToken stopping)
    {
        await registered.ConfigureAwait(false);
        using var closed = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        FrameSession? session = null;
        var remote = connection.RemoteEndPoint;
        try
        {
            var hello = await AcceptHelloAsync(connection, closed.Token).ConfigureAwait(false);
            if (hello is null)
            {
                return;
            }

            session = new FrameSession(id, connection, hello, closed.Token);
            while (!closed.IsCancellationRequested)
            {
                var frame = await connection.ReceiveAsync(closed.Token).ConfigureAwait(false);
                if (frame is not { } f)
                {
                    LogClosedByPeer(_logger, id, remote);
                    return;
                }

                await _handler(session, f.Type, f.Message, closed.Token).ConfigureAwait(false);
            }
        }
        catch (ProtocolException ex)
        {
            _counters.RecordProtocolError(ex);
            LogProtocolError(_logger, id, remote, session?.Hello.Name ?? "", ex.Kind, ex.Message);
        }
        catch (OperationCanceledException) when (closed.IsCancellationRequested)
        {
            // Server stopping or hello timeout (logged in AcceptHelloAsync).
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            LogConnectionLost(_logger, id, remote, ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            LogHandlerFailed(_logger, id, remote, ex);
        }
        finally
        {
            await closed.CancelAsync().ConfigureAwait(false);
            await connection.DisposeAsync().ConfigureAwait(false);
            _sessions.TryRemove(id, out _);
            if (session is not null)
            {
                _options.SessionClosed?.Invoke(session);
            }
        }
    }

    private async Task<WalrusGossip.Protocol.Messages.Hello?> AcceptHelloAsync(IFrameConnection connection, CancellationToken closed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed);
        timeout.CancelAfter(_options.HelloTimeout);
        try
        {
            return await HelloHandshake.AcceptAsync(connection, _options.Hello, _counters, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!closed.IsCancellationRequested)
        {
            LogHelloTimeout(_logger, connection.RemoteEndPoint, _options.HelloTimeout.TotalSeconds);
            return null;
        }
    }

    [LoggerMessage(EventId = 1401, Level = LogLevel.Warning, Message = "Session {SessionId} from {Remote} ({Name}) closed for a protocol error {Kind}: {Reason}")]
    private static partial void LogProtocolError(ILogger logger, long sessionId, EndPoint remote, string name, ProtocolErrorKind kind, string reason);

    [LoggerMessage(EventId = 1402, Level = LogLevel.Debug, Message = "Session {SessionId} from {Remote} closed by the other side")]
    private static partial void LogClosedByPeer(ILogger logger, long sessionId, EndPoint remote);

    [LoggerMessage(EventId = 1403, Level = LogLevel.Information, Message = "Session {SessionId} from {Remote} lost: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, long sessionId, EndPoint remote, string reason);

    [LoggerMessage(EventId = 1404, Level = LogLevel.Error, Message = "Session {SessionId} from {Remote} closed: the frame handler failed")]
    private static partial void LogHandlerFailed(ILogger logger, long sessionId, EndPoint remote, Exception exception);

    [LoggerMessage(EventId = 1405, Level = LogLevel.Warning, Message = "Connection from {Remote} closed: no Hello within {TimeoutSeconds} s")]
    private static partial void LogHelloTimeout(ILogger logger, EndPoint remote, double timeoutSeconds);

    [LoggerMessage(EventId = 1406, Level = LogLevel.Warning, Message = "Connection from {Remote} closed: already serving the maximum of {MaxConnections} connections")]
    private static partial void LogTooManyConnections(ILogger logger, EndPoint remote, int maxConnections);
}
