using Microsoft.Extensions.Logging.Abstractions;

using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node.Tests;

/// <summary>
/// The agent's node loop: work posted from any thread runs exactly once on the loop thread, a sleeping loop is woken
/// by a post (no lost wake-up between its last look at the inbox and its sleep), and after Stop posts are dropped and
/// invocations cancelled, never thrown, even when a post races with Dispose.
/// </summary>
public sealed class NodeLoopTests : IDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);
    private readonly string _root = Path.Combine(Path.GetTempPath(), "walrus-loop-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemDevice _device = FileSystemDevice.Create(IoEngine.Psync);

    [Fact]
    public async Task Work_posted_from_many_threads_runs_once_each_on_the_loop_thread()
    {
        using var loop = StartLoop(out _);
        var loopThread = await loop.InvokeAsync(_ => Environment.CurrentManagedThreadId).WaitAsync(Deadline);
        var ran = 0;
        var offLoop = 0;

        // Four posting threads, with pauses so the loop keeps falling asleep between bursts: every wake-up path is taken.
        var posters = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            var results = new List<Task<int>>();
            for (var i = 0; i < 2_000; i++)
            {
                results.Add(loop.InvokeAsync(_ =>
                {
                    if (Environment.CurrentManagedThreadId != loopThread)
                    {
                        Interlocked.Increment(ref offLoop);
                    }

                    return Interlocked.Increment(ref ran);
                }));
                if (i % 200 == 0)
                {
                    await Task.Yield();
                }
            }

            return await Task.WhenAll(results);
        })).ToList();

        var all = await Task.WhenAll(posters).WaitAsync(Deadline);
        Assert.Equal(8_000, ran);
        Assert.Equal(0, offLoop);
        Assert.Equal(Enumerable.Range(1, 8_000), all.SelectMany(r => r).Order());
    }

    [Fact]
    public async Task A_post_wakes_a_sleeping_loop_long_before_its_next_tick()
    {
        using var loop = StartLoop(out _);
        await loop.InvokeAsync(_ => 0).WaitAsync(Deadline);

        // The loop sleeps until its next tick or a post; 200 sequential round trips would take seconds if a post
        // had to wait for a tick. Completion is the test (bounded by the deadline), not a timing threshold.
        for (var i = 0; i < 200; i++)
        {
            Assert.Equal(i, await loop.InvokeAsync(_ => i).WaitAsync(Deadline));
        }
    }

    [Fact]
    public async Task After_stop_posts_are_dropped_and_invocations_are_cancelled()
    {
        var loop = StartLoop(out _);
        await loop.InvokeAsync(_ => 0).WaitAsync(Deadline);
        loop.Stop();
        await loop.Completion.WaitAsync(Deadline);

        var ran = false;
        loop.Post(_ => ran = true);
        var invoked = loop.InvokeAsync(_ => 1);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => invoked);
        Assert.False(ran);
        loop.Dispose();
        loop.Post(_ => ran = true); // after Dispose too: dropped, not thrown
        Assert.False(ran);
    }

    [Fact]
    public async Task When_the_node_fails_queued_and_later_invocations_are_cancelled_instead_of_hanging()
    {
        // Storage options the store refuses (an entry limit above the segment size): the node throws in Start, on the loop.
        using var loop = StartLoop(out _, "bad", storage: new StorageOptions { MaxSegmentBytes = 1 << 20, MaxEntryBytes = 4 << 20 });
        var queued = loop.InvokeAsync(_ => 1);
        var failure = await Assert.ThrowsAsync<StorageConfigurationException>(() => loop.Completion.WaitAsync(Deadline));
        Assert.Contains("MaxEntryBytes", failure.Message, StringComparison.Ordinal);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => queued.WaitAsync(Deadline));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => loop.InvokeAsync(_ => 2).WaitAsync(Deadline));
    }

    [Fact]
    public async Task Posts_racing_with_dispose_never_throw()
    {
        for (var round = 0; round < 20; round++)
        {
            var loop = StartLoop(out _, $"race{round}");
            await loop.InvokeAsync(_ => 0).WaitAsync(Deadline);
            using var stop = new CancellationTokenSource();
            var poster = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    loop.Post(_ => { });
                }
            });

            loop.Dispose();
            await stop.CancelAsync();
            await poster.WaitAsync(Deadline); // faults here if a Post threw
            await loop.Completion.WaitAsync(Deadline);
        }
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private NodeLoop StartLoop(out WalrusNode node, string name = "n1", StorageOptions? storage = null)
    {
        var options = new NodeOptions
        {
            NodeId = 1,
            GossipAddress = "node1",
            DataDirectory = Path.Combine(_root, name),
            InitialVoters = [1],
            Storage = storage ?? new StorageOptions { MaxSegmentBytes = 1 << 20, MaxEntryBytes = 64 << 10, Durability = DurabilityPolicy.None },
        };
        var clock = new SystemClock();
        node = new WalrusNode(options, _device, new NoTransport(), clock, new Random(1));
        var loop = new NodeLoop(node, clock, NullLogger.Instance);
        loop.Start();
        return loop;
    }

    private sealed class NoTransport : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
        }

        public void SendGossip(string address, bool reliable, byte[] payload)
        {
        }
    }
}
