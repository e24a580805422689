using BenchmarkDotNet.Attributes;
using WalrusGossip.Raft;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// Throughput of the Raft core alone: a 3-node cluster over in-memory storage and an in-process queue,
/// committing 1 KiB entries in batches. <see cref="Steps"/> reports one operation per <see cref="RaftNode.Step"/>
/// call (its Op/s column is steps per second); <see cref="CommitBatch"/> reports one operation per committed batch.
/// Each step includes the Ready handling a node loop does: persist to MemoryRaftLogStorage, apply, Advance.
/// </summary>
[MemoryDiagnoser]
public class RaftBenchmarks
{
    private const int StepsPerInvoke = 10_000;

    private InMemoryCluster _cluster = null!;
    private ReadOnlyMemory<byte>[] _batch = [];

    /// <summary>Entries per proposal batch.</summary>
    [Params(1, 16, 128)]
    public int BatchSize { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var payload = new byte[1024];
        _batch = Enumerable.Repeat<ReadOnlyMemory<byte>>(payload, BatchSize).ToArray();
        _cluster = new InMemoryCluster(3);
        _cluster.ElectFirst();
    }

    /// <summary>Proposes one batch on the leader and drives the cluster until every node has applied it.</summary>
    [Benchmark]
    public ulong CommitBatch()
    {
        var result = _cluster.Leader.ProposeBatch(_batch);
        _cluster.RunUntilApplied(result.Index);
        return result.Index;
    }

    /// <summary>Exactly <c>StepsPerInvoke</c> message steps, proposing a new batch whenever the network is idle.</summary>
    [Benchmark(OperationsPerInvoke = StepsPerInvoke)]
    public int Steps()
    {
        var steps = 0;
        while (steps < StepsPerInvoke)
        {
            if (!_cluster.HasQueuedMessages)
            {
                _cluster.Leader.ProposeBatch(_batch);
                _cluster.FlushAll();
            }

            steps += _cluster.DeliverOne();
        }

        return steps;
    }

    /// <summary>The benchmark's own node loop: persist, send, apply, advance (the order <see cref="Ready"/> documents).</summary>
    private sealed class InMemoryCluster
    {
        private const int CompactEveryEntries = 8192;
        private readonly RaftNode[] _nodes;
        private readonly MemoryRaftLogStorage[] _storages;
        private readonly Queue<RaftMessage> _queue = new();
        private readonly ulong[] _applied;

        public InMemoryCluster(int size)
        {
            var config = ClusterConfig.Create(Enumerable.Range(1, size).Select(i => (ulong)i));
            _nodes = new RaftNode[size];
            _storages = new MemoryRaftLogStorage[size];
            _applied = new ulong[size];
            for (var i = 0; i < size; i++)
            {
                _storages[i] = MemoryRaftLogStorage.Bootstrap(config);
                _nodes[i] = new RaftNode(
                    new RaftOptions { Id = (ulong)i + 1, Random = new SeededRaftRandom((ulong)i + 1), MaxInflightMessages = 64 },
                    _storages[i]);
            }
        }

        public RaftNode Leader => _nodes[0];

        public bool HasQueuedMessages => _queue.Count > 0;

        public void ElectFirst()
        {
            _nodes[0].Campaign();
            RunUntilQuiet();
        }

        public void RunUntilApplied(ulong index)
        {
            FlushAll();
            while (_queue.Count > 0 || Array.Exists(_applied, a => a < index))
            {
                if (DeliverOne() == 0)
                {
                    FlushAll();
                }
            }
        }

        public int DeliverOne()
        {
            if (!_queue.TryDequeue(out var message))
            {
                return 0;
            }

            var target = (int)message.To - 1;
            _nodes[target].Step(message);
            Flush(target);
            return 1;
        }

        public void FlushAll()
        {
            for (var i = 0; i < _nodes.Length; i++)
            {
                Flush(i);
            }
        }

        private void RunUntilQuiet()
        {
            FlushAll();
            while (DeliverOne() > 0)
            {
            }
        }

        private void Flush(int i)
        {
            var node = _nodes[i];
            var storage = _storages[i];
            while (node.HasReady)
            {
                var ready = node.GetReady();
                if (ready.Entries.Length > 0)
                {
                    storage.Append(ready.Entries);
                }

                if (ready.HasHardState)
                {
                    storage.SetHardState(ready.HardState);
                }

                foreach (var message in ready.Messages)
                {
                    _queue.Enqueue(message);
                }

                if (ready.CommittedEntries.Length > 0)
                {
                    _applied[i] = ready.CommittedEntries[^1].Index;
                }

                node.Advance(ready);
                if (_applied[i] - storage.Snapshot.Index > CompactEveryEntries)
                {
                    storage.CreateSnapshot(_applied[i], node.Status.Config, ReadOnlyMemory<byte>.Empty);
                }
            }
        }
    }
}
