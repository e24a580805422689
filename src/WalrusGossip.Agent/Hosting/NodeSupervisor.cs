using Microsoft.Extensions.Logging;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Keeps the agent's node running through storage failures (ENOSPC, EIO, a failed fdatasync): when the node loop stops
/// on one, the supervisor releases the node as a crash would (nothing acknowledged is lost: appends are acknowledged
/// only after their fdatasync), and reopens the data directory and a new node in-process, with normal crash recovery
/// (torn tail truncated), after 1 s, then doubling up to 30 s between attempts, until one opens. The process, its
/// ports and its HTTP endpoints stay up meanwhile; <see cref="Current"/> is null and client requests are answered
/// UNAVAILABLE. Any other failure (a bug, corruption) is handed to the fatal callback, which stops the agent as before.
/// </summary>
internal sealed partial class NodeSupervisor : IAsyncDisposable
{
    /// <summary>First wait before reopening after a storage failure: 1 s.</summary>
    public static readonly TimeSpan DefaultFirstBackoff = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between reopen attempts: 30 s.</summary>
    public static readonly TimeSpan DefaultMaxBackoff = TimeSpan.FromSeconds(30);

    private readonly Func<(WalrusNode Node, NodeLoop Loop)> _create;
    private readonly Action<NodeLoop?> _onChange;
    private readonly Action<Exception> _fatal;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private WalrusNode? _node;
    private NodeLoop? _loop;
    private Task _reopening = Task.CompletedTask;
    private long _reopenAttempts;
    private long _storageFailures;

    /// <summary>Creates the supervisor; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <param name="create">Builds a new node and its loop (not started) on the data directory.</param>
    /// <param name="onChange">Told the loop in service after every change (null while the node is down), before requests see it.</param>
    /// <param name="fatal">Told a failure that is not a storage failure; the agent stops.</param>
    /// <param name="logger">Receives the failure, each attempt and the recovery.</param>
    public NodeSupervisor(Func<(WalrusNode Node, NodeLoop Loop)> create, Action<NodeLoop?> onChange, Action<Exception> fatal, ILogger logger)
    {
        _create = create;
        _onChange = onChange;
        _fatal = fatal;
        _logger = logger;
    }

    /// <summary>First wait before a reopen attempt; doubles after each failed attempt. Default <see cref="DefaultFirstBackoff"/>.</summary>
    public TimeSpan FirstBackoff { get; init; } = DefaultFirstBackoff;

    /// <summary>Cap of the wait between attempts. Default <see cref="DefaultMaxBackoff"/>.</summary>
    public TimeSpan MaxBackoff { get; init; } = DefaultMaxBackoff;

    /// <summary>The running node loop; null before start, while reopening after a storage failure, and after a fatal failure.</summary>
    public NodeLoop? Current => Volatile.Read(ref _loop);

    /// <summary>The storage failure the node is down for, null while it runs.</summary>
    public Exception? StorageFailure { get; private set; }

    /// <summary>The failure that stopped the agent (not a storage failure), or null.</summary>
    public Exception? FatalFailure { get; private set; }

    /// <summary>Storage failures survived since start.</summary>
    public long StorageFailures => Interlocked.Read(ref _storageFailures);

    /// <summary>Reopen attempts made since start (successful or not).</summary>
    public long ReopenAttempts => Interlocked.Read(ref _reopenAttempts);

    /// <summary>Opens the node and waits until its store is recovered and it runs.</summary>
    /// <returns>A task that completes once the node runs.</returns>
    /// <exception cref="Exception">Opening failed (the exception of the node's start, as before the supervisor existed).</exception>
    public async Task StartAsync()
    {
        var (node, loop) = _create();
        loop.Start();
        var started = loop.InvokeAsync(n => n.IsStarted);
        await Task.WhenAny(started, loop.Completion).ConfigureAwait(false);
        if (loop.Completion.IsFaulted)
        {
            Release(node, loop);
            await loop.Completion.ConfigureAwait(false); // rethrows the start-up failure
        }

        Adopt(node, loop);
    }

    /// <summary>True when <paramref name="error"/> or anything it wraps is a storage failure the store recovers from by reopening: <see cref="StorageFailedException"/> or an <see cref="IOException"/>.</summary>
    /// <param name="error">What the node loop stopped on.</param>
    /// <returns>Whether a reopen may help.</returns>
    public static bool IsStorageFailure(Exception? error)
    {
        for (var e = error; e is not null; e = e.InnerException)
        {
            if (e is AggregateException aggregate && aggregate.InnerExceptions.Count == 1)
            {
                continue;
            }

            if (e is StorageFailedException or IOException)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Stops reopening and releases the current node (if the caller has not stopped its loop already).</summary>
    /// <returns>A task that completes when no attempt is in flight.</returns>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _reopening.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var loop = Interlocked.Exchange(ref _loop, null);
        loop?.Dispose();
        _stop.Dispose();
    }

    private void Adopt(WalrusNode node, NodeLoop loop)
    {
        _node = node;
        Volatile.Write(ref _loop, loop);
        StorageFailure = null;
        _onChange(loop);
        _ = loop.Completion.ContinueWith(t => OnStopped(node, loop, t), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void OnStopped(WalrusNode node, NodeLoop loop, Task completion)
    {
        if (_stop.IsCancellationRequested || Current != loop)
        {
            return;
        }

        var error = completion.Exception?.GetBaseException();
        if (error is null || !IsStorageFailure(completion.Exception))
        {
            FatalFailure = error ?? new InvalidOperationException("the node loop stopped without being asked to");
            Volatile.Write(ref _loop, null);
            _fatal(FatalFailure);
            return;
        }

        Interlocked.Increment(ref _storageFailures);
        StorageFailure = error;
        Volatile.Write(ref _loop, null);
        _onChange(null);
        LogStorageFailed(_logger, error, FirstBackoff.TotalSeconds);
        Release(node, loop);
        _reopening = Task.Run(ReopenAsync);
    }

    /// <summary>Reopens with exponential backoff until a node runs, the supervisor is disposed, or a non-storage failure stops the agent.</summary>
    private async Task ReopenAsync()
    {
        var wait = FirstBackoff;
        while (true)
        {
            try
            {
                await Task.Delay(wait, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var attempt = Interlocked.Increment(ref _reopenAttempts);
            WalrusNode? node = null;
            NodeLoop? loop = null;
            Exception? error;
            try
            {
                (node, loop) = _create();
                loop.Start();
                var started = loop.InvokeAsync(n => n.IsStarted);
                await Task.WhenAny(started, loop.Completion).ConfigureAwait(false);
                error = loop.Completion.IsFaulted ? loop.Completion.Exception : null;
            }
#pragma warning disable CA1031 // any failure to build the node is judged below: storage failures are retried, others are fatal
            catch (Exception e)
#pragma warning restore CA1031
            {
                error = e;
            }

            if (error is null && !_stop.IsCancellationRequested)
            {
                LogReopened(_logger, attempt, StorageFailures);
                Adopt(node!, loop!);
                return;
            }

            if (node is not null && loop is not null)
            {
                Release(node, loop);
            }

            if (_stop.IsCancellationRequested)
            {
                return;
            }

            if (!IsStorageFailure(error))
            {
                FatalFailure = error!.GetBaseException();
                _fatal(FatalFailure);
                return;
            }

            StorageFailure = error!.GetBaseException();
            wait = wait * 2 < MaxBackoff ? wait * 2 : MaxBackoff;
            LogReopenFailed(_logger, attempt, StorageFailure.Message, wait.TotalSeconds);
        }
    }

    /// <summary>Lets go of a stopped node like a crash: its loop thread has ended; files and the directory lock are closed (nothing is flushed on a failed log).</summary>
    private void Release(WalrusNode node, NodeLoop loop)
    {
        loop.Dispose();
        try
        {
            node.Dispose();
        }
        catch (Exception e) when (e is IOException or StorageException or ObjectDisposedException or InvalidOperationException)
        {
            LogReleaseFailed(_logger, e);
        }

        if (_node == node)
        {
            _node = null;
        }
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Error, Message = "the node stopped on a storage failure; the agent stays up (unready, clients get UNAVAILABLE) and reopens the data directory in {Seconds} s")]
    private static partial void LogStorageFailed(ILogger logger, Exception error, double seconds);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "reopen attempt {Attempt} failed: {Reason}; next in {Seconds} s")]
    private static partial void LogReopenFailed(ILogger logger, long attempt, string reason, double seconds);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "node reopened after attempt {Attempt} (storage failures survived: {Failures}); crash recovery ran")]
    private static partial void LogReopened(ILogger logger, long attempt, long failures);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "closing the failed node's files raised an error; continuing")]
    private static partial void LogReleaseFailed(ILogger logger, Exception error);
}
