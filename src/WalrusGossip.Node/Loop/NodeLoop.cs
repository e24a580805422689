using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Node;

/// <summary>
/// The one event loop of a <see cref="WalrusNode"/>, shared by <c>walrus-agent</c> and <c>walrus-sim</c>. Every other
/// thread (or simulated process) talks to the node by posting work (<see cref="Post(Action{WalrusNode})"/>, <see cref="InvokeAsync{T}"/>);
/// each <see cref="RunOnce"/> drains the inbox as one batch (one Ready: one log write and fsync, one AppendEntries per
/// follower), does one bounded slice of pending apply work, and ticks the node when due. No lock is taken inside the node.
/// </summary>
/// <remarks>
/// <para>Two ways to drive it, with the same iteration:</para>
/// <list type="bullet">
/// <item><see cref="Start"/>: a dedicated thread runs the loop and sleeps on a kernel event until the next tick or a post
/// (the agent).</item>
/// <item>An <see cref="INodeScheduler"/> given to the constructor: the owner calls <see cref="Open"/>, then
/// <see cref="RunOnce"/> whenever the scheduler was woken or the returned time has come, on one thread (the simulator,
/// under virtual time).</item>
/// </list>
/// <para>An exception escaping the node (an invariant violation) stops the loop and is surfaced through
/// <see cref="Completion"/>: the agent then exits rather than continue with damaged state. Queued invocations are
/// cancelled, never left waiting.</para>
/// </remarks>
public sealed partial class NodeLoop : IDisposable
{
    /// <summary>Most work items run per batch (one Ready, one fsync) before pending work and timers get a look.</summary>
    public const int MaxBatchItems = 8192;

    private readonly WalrusNode _node;
    private readonly INodeClock _clock;
    private readonly ILogger _logger;
    private readonly ConcurrentQueue<WorkItem> _inbox = new();
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly INodeScheduler _scheduler;
    private readonly DedicatedThreadScheduler? _thread;
    private volatile bool _stopping;
    private ulong _appliedIndex;
    private TaskCompletionSource _appliedAdvanced = NewSignal();
    private int _exited;

    /// <summary>Creates a loop that <see cref="Start"/> runs on its own thread.</summary>
    /// <param name="node">The node, not yet started; the loop calls its Start.</param>
    /// <param name="clock">The clock the node uses.</param>
    /// <param name="logger">Receives a critical line when the node fails.</param>
    public NodeLoop(WalrusNode node, INodeClock clock, ILogger? logger = null)
        : this(node, clock, null, logger)
    {
    }

    /// <summary>Creates a loop driven by its owner: <paramref name="scheduler"/> is woken when work is posted.</summary>
    /// <param name="node">The node, not yet started; <see cref="Open"/> starts it.</param>
    /// <param name="clock">The clock the node uses.</param>
    /// <param name="scheduler">Woken (from any thread) when posted work waits for <see cref="RunOnce"/>; null for <see cref="Start"/>'s dedicated thread.</param>
    /// <param name="logger">Receives a critical line when the node fails.</param>
    public NodeLoop(WalrusNode node, INodeClock clock, INodeScheduler? scheduler, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(node);
        ArgumentNullException.ThrowIfNull(clock);
        _node = node;
        _clock = clock;
        _logger = logger ?? NullLogger.Instance;
        if (scheduler is null)
        {
            _thread = new DedicatedThreadScheduler(this);
            _scheduler = _thread;
        }
        else
        {
            _scheduler = scheduler;
        }
    }

    /// <summary>
    /// The node's applied index as of the loop's last iteration, readable from any thread without posting work.
    /// </summary>
    public ulong AppliedIndex => Volatile.Read(ref _appliedIndex);

    /// <summary>Completes when the loop stops: normally after <see cref="Stop"/>, faulted when the node threw.</summary>
    public Task Completion => _completion.Task;

    /// <summary>True once a stop was requested; no further work is accepted.</summary>
    public bool IsStopping => _stopping;

    /// <summary>True when posted work waits for the next <see cref="RunOnce"/>.</summary>
    public bool HasQueuedWork => !_inbox.IsEmpty;

    /// <summary>The node's committed log view (immutable; safe on any thread): reads are served from it, off the loop.</summary>
    public CommittedLog Committed => _node.Committed;

    /// <summary>The node's applied authorization state (<see cref="WalrusNode.SecurityPolicy"/>); safe from any thread.</summary>
    public SecurityPolicy SecurityPolicy => _node.SecurityPolicy;

    /// <summary>
    /// Completes once the applied index has reached <paramref name="index"/> (tails wait here instead of polling): the
    /// loop wakes waiters after each iteration that advanced it.
    /// </summary>
    /// <param name="index">Applied index to wait for.</param>
    /// <param name="cancellationToken">Stops waiting (the task is then canceled).</param>
    /// <returns>A task that completes when <see cref="AppliedIndex"/> is at least <paramref name="index"/>.</returns>
    public async Task WaitForAppliedAsync(ulong index, CancellationToken cancellationToken)
    {
        while (true)
        {
            var advanced = Volatile.Read(ref _appliedAdvanced);
            if (AppliedIndex >= index)
            {
                return;
            }

            await advanced.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Starts the dedicated thread; the node's <see cref="WalrusNode.Start"/> runs first on it.</summary>
    /// <exception cref="InvalidOperationException">The loop was created with an external scheduler.</exception>
    public void Start() => (_thread ?? throw new InvalidOperationException("this loop is driven by its scheduler; call Open and RunOnce")).Start();

    /// <summary>Queues work for the loop; silently dropped after the loop stopped.</summary>
    /// <param name="work">Runs on the loop with the node.</param>
    public void Post(Action<WalrusNode> work) => Enqueue(new WorkItem(work, null));

    /// <summary>Queues work for the loop, or runs <paramref name="abandoned"/> instead when the loop has stopped or fails before running it.</summary>
    /// <param name="work">Runs on the loop with the node.</param>
    /// <param name="abandoned">Runs (on the posting or the failing thread) when <paramref name="work"/> never will, e.g. to answer a request UNAVAILABLE.</param>
    public void Post(Action<WalrusNode> work, Action abandoned) => Enqueue(new WorkItem(work, abandoned));

    /// <summary>Runs <paramref name="work"/> on the loop and returns its result.</summary>
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

    /// <summary>Starts the node (opens and recovers its store). Call once, on the loop's thread, before <see cref="RunOnce"/>.</summary>
    public void Open() => _node.Start();

    /// <summary>
    /// One iteration: every work item queued since the last one runs inside one node batch (at most
    /// <see cref="MaxBatchItems"/>), then one slice of pending apply work, then the node's <see cref="WalrusNode.Tick"/>
    /// if it is due. Call on the loop's thread; exceptions from the node propagate (the owner calls <see cref="Fail"/>
    /// or, in the simulator, treats a simulated crash as one).
    /// </summary>
    /// <returns>When the loop next needs to run: now when work is left, else the node's next tick.</returns>
    public TimeSpan RunOnce()
    {
        if (!_inbox.IsEmpty)
        {
            _node.BeginBatch();
            for (var n = 0; n < MaxBatchItems && _inbox.TryDequeue(out var item); n++)
            {
                item.Work(_node);
            }

            _node.EndBatch();
        }

        if (_node.HasPendingWork)
        {
            // Catch-up or re-apply in progress: do a bounded slice, then look at the inbox again.
            _node.ProcessPendingWork();
        }

        var now = _clock.Now;
        if (now >= _node.NextTickDue)
        {
            _node.Tick();
        }

        var applied = _node.AppliedIndex;
        if (applied != Volatile.Read(ref _appliedIndex))
        {
            Volatile.Write(ref _appliedIndex, applied);
            Interlocked.Exchange(ref _appliedAdvanced, NewSignal()).TrySetResult();
        }

        return !_inbox.IsEmpty || _node.HasPendingWork ? now : _node.NextTickDue;
    }

    /// <summary>Stops accepting work and wakes the loop so that its owner closes it (the dedicated thread does so itself).</summary>
    public void RequestStop()
    {
        _stopping = true;
        _scheduler.Wake();
    }

    /// <summary>
    /// Ends a stopped loop on its own thread: runs the work queued before the stop, closes the node (flushing its log)
    /// and completes <see cref="Completion"/>.
    /// </summary>
    public void Close()
    {
        _stopping = true;
        while (_inbox.TryDequeue(out var item))
        {
            item.Work(_node);
        }

        MarkExited();
        _node.Dispose();
        _completion.TrySetResult();
    }

    /// <summary>Ends a loop whose node threw: logs it, cancels queued work and faults <see cref="Completion"/>.</summary>
    /// <param name="error">What the node threw.</param>
    public void Fail(Exception error)
    {
        LogNodeFailed(_logger, error);
        _stopping = true;
        MarkExited(); // work still queued is not run on a failed node: invocations are canceled
        _completion.TrySetException(error);
    }

    /// <summary>Stops the loop after the work already queued, closes the node and waits for the dedicated thread.</summary>
    public void Stop()
    {
        _stopping = true;
        _thread?.Stop();
    }

    /// <summary>Stops the loop and releases its thread's signal.</summary>
    public void Dispose()
    {
        Stop();
        _thread?.Dispose();
    }

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

        _scheduler.Wake();
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

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>A queued piece of work, and what to do instead when the loop will never run it (null: nothing).</summary>
    private readonly record struct WorkItem(Action<WalrusNode> Work, Action? Abandon);

    [LoggerMessage(EventId = 1, Level = LogLevel.Critical, Message = "the node loop stopped on an unexpected error; the agent will exit")]
    private static partial void LogNodeFailed(ILogger logger, Exception error);

    /// <summary>
    /// Runs a loop on its own thread: <see cref="RunOnce"/>, then sleep until the returned time or a post. The sleep is
    /// a kernel event, not SemaphoreSlim: SemaphoreSlim.Wait spins (sched_yield) before it blocks, which under an
    /// open-loop load was 13% of a follower's CPU (perf record), for a loop whose next item is usually 0.1-1 ms away.
    /// </summary>
    private sealed class DedicatedThreadScheduler : INodeScheduler, IDisposable
    {
        private static readonly TimeSpan MaxSleep = TimeSpan.FromSeconds(1);
        private readonly NodeLoop _loop;
        private readonly AutoResetEvent _signal = new(false);
        private readonly Thread _thread;
        private int _sleeping;

        public DedicatedThreadScheduler(NodeLoop loop)
        {
            _loop = loop;
            _thread = new Thread(Run) { IsBackground = true, Name = "walrus-node-loop" };
        }

        public void Start() => _thread.Start();

        /// <summary>Wakes the thread only when it sleeps: a busy loop finds the item on its next drain without a wake-up.</summary>
        public void Wake()
        {
            if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
            {
                Signal();
            }
        }

        public void Stop()
        {
            Signal();
            if (Thread.CurrentThread != _thread && _thread.IsAlive)
            {
                _thread.Join();
            }
        }

        public void Dispose() => _signal.Dispose();

        private void Signal()
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

        private void Run()
        {
            try
            {
                _loop.Open();
                while (true)
                {
                    var next = _loop.RunOnce();
                    if (_loop.IsStopping)
                    {
                        _loop.Close();
                        return;
                    }

                    var wait = next - _loop._clock.Now;
                    if (wait > TimeSpan.Zero)
                    {
                        // Announce the sleep, then look once more: a Post that missed the flag left its item in the inbox.
                        Interlocked.Exchange(ref _sleeping, 1);
                        if (!_loop.HasQueuedWork && !_loop.IsStopping)
                        {
                            _signal.WaitOne(wait < MaxSleep ? wait : MaxSleep);
                        }

                        Volatile.Write(ref _sleeping, 0);
                    }
                }
            }
#pragma warning disable CA1031 // the loop must report any failure of the node and stop, whatever its type
            catch (Exception e)
#pragma warning restore CA1031
            {
                _loop.Fail(e);
            }
        }
    }
}
