using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using WalrusGossip.Node;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Runs one <see cref="WalrusNode"/> on a dedicated thread. Every other thread talks to the node by posting work
/// (<see cref="Post"/>, <see cref="InvokeAsync{T}"/>); the loop also calls <see cref="WalrusNode.Tick"/> when due.
/// No lock is taken inside the node. An exception escaping the node (an invariant violation) stops the loop and is
/// surfaced through <see cref="Completion"/>: the agent then exits rather than continue with damaged state.
/// </summary>
public sealed partial class NodeLoop : IDisposable
{
    private readonly WalrusNode _node;
    private readonly INodeClock _clock;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<WorkItem> _inbox = new();
    // A kernel event, not SemaphoreSlim: SemaphoreSlim.Wait spins (sched_yield) before it blocks, which under an
    // open-loop load was 13% of a follower's CPU (perf record), for a loop whose next item is usually 0.1-1 ms away.
    private readonly AutoResetEvent _signal = new(false);
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private volatile bool _stopping;
    private ulong _appliedIndex;
    private int _sleeping;
    private int _exited;

    /// <summary>Most work items run per batch (one Ready, one fsync) before timers get a look.</summary>
    private const int MaxBatchItems = 8192;

    /// <summary>Creates the loop; call <see cref="Start"/> to run it.</summary>
    /// <param name="node">The node, not yet started; the loop calls its Start.</param>
    /// <param name="clock">The clock the node uses.</param>
    /// <param name="logger">Receives a critical line when the node fails.</param>
    public NodeLoop(WalrusNode node, INodeClock clock, ILogger logger)
    {
        _node = node;
        _clock = clock;
        _logger = logger;
        _thread = new Thread(Run) { IsBackground = true, Name = "walrus-node-loop" };
    }

    /// <summary>
    /// The node's applied index as of the loop's last iteration, readable from any thread without posting work
    /// (tail readers poll it and only visit the loop when it moved).
    /// </summary>
    public ulong AppliedIndex => Volatile.Read(ref _appliedIndex);

    /// <summary>Completes when the loop stops: normally after <see cref="Stop"/>, faulted when the node threw.</summary>
    public Task Completion => _completion.Task;

    /// <summary>Starts the thread; the node's <see cref="WalrusNode.Start"/> runs first on it.</summary>
    public void Start() => _thread.Start();

    /// <summary>Queues work for the loop thread; silently dropped after the loop stopped.</summary>
    /// <param name="work">Runs on the loop thread with the node.</param>
    public void Post(Action<WalrusNode> work) => Enqueue(new WorkItem(work, null));

    private void Enqueue(WorkItem item)
    {
        if (_stopping)
        {
            item.Abandon?.Invoke();
            return;
        }

        _inbox.Enqueue(item);
        if (Volatile.Read(ref _exited) == 1)
        {
            // The loop has already taken its last look at the inbox (it stopped or failed): nobody else will.
            AbandonQueued();
            return;
        }

        // Wake the loop only when it sleeps: a busy loop finds the item on its next drain without a wake-up.
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            try
            {
                _signal.Set();
            }
            catch (ObjectDisposedException)
            {
                // Raced with Dispose: the loop has stopped, and the item is dropped as documented.
            }
        }
    }

    /// <summary>Runs <paramref name="work"/> on the loop thread and returns its result.</summary>
    /// <typeparam name="T">Result type.</typeparam>
    /// <param name="work">Work to run with the node.</param>
    /// <returns>
    /// The result; faulted with the work's exception; canceled when the loop stops (or fails) before running it.
    /// </returns>
    public Task<T> InvokeAsync<T>(Func<WalrusNode, T> work)
    {
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(new WorkItem(
            node =>
            {
                try
                {
                    tcs.TrySetResult(work(node));
                }
                catch (Exception e) when (e is not Raft.RaftInvariantViolationException)
                {
                    tcs.TrySetException(e);
                }
            },
            () => tcs.TrySetCanceled()));
        return tcs.Task;
    }

    /// <summary>Stops the loop after the work already queued, closes the node (flushing its log) and waits for the thread.</summary>
    public void Stop()
    {
        _stopping = true;
        _signal.Set();
        if (Thread.CurrentThread != _thread && _thread.IsAlive)
        {
            _thread.Join();
        }
    }

    /// <summary>Stops the loop and releases the signal.</summary>
    public void Dispose()
    {
        Stop();
        _signal.Dispose();
    }

    private void Run()
    {
        try
        {
            _node.Start();
            while (true)
            {
                // One batch per drain: every append and message queued since the last drain shares one Ready,
                // so one log write and one fsync (group commit) and one AppendEntries per follower.
                if (!_inbox.IsEmpty)
                {
                    _node.BeginBatch();
                    for (var n = 0; n < MaxBatchItems && _inbox.TryDequeue(out var item); n++)
                    {
                        item.Work(_node);
                    }

                    _node.EndBatch();
                }

                if (_stopping)
                {
                    while (_inbox.TryDequeue(out var item))
                    {
                        item.Work(_node);
                    }

                    MarkExited();
                    break;
                }

                if (_node.HasPendingWork)
                {
                    // Catch-up or re-apply in progress: do a bounded slice, then look at the inbox again.
                    _node.ProcessPendingWork();
                }

                var wait = _node.NextTickDue - _clock.Now;
                if (wait > TimeSpan.Zero && _inbox.IsEmpty && !_node.HasPendingWork)
                {
                    // Announce the sleep, then look once more: a Post that missed the flag left its item in the inbox.
                    Interlocked.Exchange(ref _sleeping, 1);
                    if (_inbox.IsEmpty && !_stopping)
                    {
                        _signal.WaitOne(wait < TimeSpan.FromSeconds(1) ? wait : TimeSpan.FromSeconds(1));
                    }

                    Volatile.Write(ref _sleeping, 0);
                }

                if (_clock.Now >= _node.NextTickDue)
                {
                    _node.Tick();
                }

                Volatile.Write(ref _appliedIndex, _node.AppliedIndex);
            }

            _node.Dispose();
            _completion.TrySetResult();
        }
#pragma warning disable CA1031 // the loop must report any failure of the node and stop, whatever its type
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogNodeFailed(_logger, e);
            _stopping = true;
            MarkExited(); // work still queued is not run on a failed node: invocations are canceled
            _completion.TrySetException(e);
        }
    }

    /// <summary>Marks that the loop runs no more work, then abandons what is queued (a later Enqueue abandons its own).</summary>
    private void MarkExited()
    {
        Interlocked.Exchange(ref _exited, 1);
        AbandonQueued();
    }

    private void AbandonQueued()
    {
        while (_inbox.TryDequeue(out var item))
        {
            item.Abandon?.Invoke();
        }
    }

    /// <summary>A queued piece of work, and what to do instead when the loop will never run it (null: nothing).</summary>
    private readonly record struct WorkItem(Action<WalrusNode> Work, Action? Abandon);

    [LoggerMessage(EventId = 1, Level = LogLevel.Critical, Message = "the node loop stopped on an unexpected error; the agent will exit")]
    private static partial void LogNodeFailed(ILogger logger, Exception error);
}
