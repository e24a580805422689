using BenchmarkDotNet.Attributes;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// The append path above storage (issue 21): three real <see cref="WalrusNode"/>s in this process, wired by an
/// in-memory network that passes <see cref="RaftMessage"/>s by reference and a manual clock, durability none (the disk
/// is measured elsewhere). One operation is one client append of a 64-byte payload, from <see cref="WalrusNode.Append"/>
/// on the leader to its callback after commit and apply, with the followers' appends and acknowledgements in between.
/// As the node loop does, each node handles its inputs in batches (<see cref="WalrusNode.BeginBatch"/>): the leader takes
/// <see cref="AppendsPerBatch"/> appends per batch, and every node takes all the Raft messages queued for it at once.
/// <see cref="EncodeOnly"/> is the baseline: it does the benchmark's own work (encoding the command, which a real
/// client does on its side) and nothing else, so the node's cost per append is the difference of the two rows.
/// Run: <c>dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*NodeAppend*'</c>.
/// </summary>
[MemoryDiagnoser]
public class NodeAppendBenchmarks
{
    private const int Batch = 256;
    private static readonly byte[] Payload = new byte[64];

    private readonly ManualClock _clock = new();
    private readonly Queue<(WalrusNode To, RaftMessage Message)> _network = new();
    private readonly Dictionary<ulong, WalrusNode> _nodes = [];
    private string _root = "";
    private FileSystemDevice? _disk;
    private WalrusNode? _leader;
    private Action<AppendResult>? _done;
    private int _completed;
    private ulong _sequence;

    /// <summary>Client appends the leader's loop takes in one batch (one Ready, one write, one AppendEntries per follower).</summary>
    [Params(16, 256)]
    public int AppendsPerBatch { get; set; } = 256;

    [GlobalSetup]
    public void Setup()
    {
        _root = Directory.CreateTempSubdirectory("walrus-bench-node-").FullName;
        _disk = FileSystemDevice.Create(IoEngine.Psync);
        _done = _ => _completed++;
        foreach (var id in new ulong[] { 1, 2, 3 })
        {
            var options = new NodeOptions
            {
                NodeId = id,
                GossipAddress = $"node{id}",
                DataDirectory = Path.Combine(_root, $"n{id}"),
                InitialVoters = [1, 2, 3],
                Storage = new StorageOptions { Durability = DurabilityPolicy.None, RunInBackground = work => { work(); return Task.CompletedTask; } },
            };
            var node = new WalrusNode(options, _disk, new Transport(this), _clock, new Random((int)id));
            _nodes[id] = node;
            node.Start();
        }

        for (var step = 0; step < 10_000 && _leader is null; step++)
        {
            Deliver();
            _clock.Now += TimeSpan.FromMilliseconds(10);
            foreach (var node in _nodes.Values)
            {
                node.Tick();
            }

            _leader = _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader);
        }

        if (_leader is null)
        {
            throw new InvalidOperationException("no leader elected");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var node in _nodes.Values)
        {
            node.Dispose();
        }

        _disk?.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>Baseline: encodes <see cref="Batch"/> commands as a client would, and drops them.</summary>
    [Benchmark(Baseline = true, OperationsPerInvoke = Batch)]
    public int EncodeOnly()
    {
        var total = 0;
        for (var i = 0; i < Batch; i++)
        {
            total += AppendCommand.Encode(7, ++_sequence, "orders", Payload).Length;
        }

        return total;
    }

    /// <summary><see cref="Batch"/> appends proposed on the leader, replicated, committed and applied on all three nodes.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int AppendCommitApply()
    {
        _completed = 0;
        for (var i = 0; i < Batch; i += AppendsPerBatch)
        {
            _leader!.BeginBatch();
            for (var j = 0; j < AppendsPerBatch; j++)
            {
                _sequence++;
                _leader.Append(7, _sequence, AppendCommand.Encode(7, _sequence, "orders", Payload), _done!);
            }

            _leader.EndBatch();
            Deliver();
        }

        while (_completed < Batch)
        {
            if (!Deliver())
            {
                _clock.Now += TimeSpan.FromMilliseconds(10);
                foreach (var node in _nodes.Values)
                {
                    node.Tick();
                }
            }
        }

        return _completed;
    }

    /// <summary>Delivers everything queued, each node taking its messages in one batch; true when anything was delivered.</summary>
    private bool Deliver()
    {
        var any = false;
        while (_network.Count > 0)
        {
            foreach (var node in _nodes.Values)
            {
                node.BeginBatch();
            }

            var count = _network.Count;
            for (var i = 0; i < count; i++)
            {
                var (to, message) = _network.Dequeue();
                to.ReceiveRaft(message);
                any = true;
            }

            foreach (var node in _nodes.Values)
            {
                node.EndBatch();
            }
        }

        return any;
    }

    private sealed class ManualClock : INodeClock
    {
        public TimeSpan Now { get; set; }
    }

    private sealed class Transport(NodeAppendBenchmarks bench) : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
            if (bench._nodes.TryGetValue(message.To, out var to))
            {
                bench._network.Enqueue((to, message));
            }
        }

        public void SendGossip(string address, bool reliable, byte[] payload)
        {
            // Gossip is not part of the append path; dropping it keeps the run about appends only.
        }
    }
}
