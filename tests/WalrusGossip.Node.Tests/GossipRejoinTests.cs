using WalrusGossip.Membership;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node.Tests;

/// <summary>
/// Regression for walrus-sim seeds 8 and 36 (<c>walrus-sim run --seed 8 --nodes 5 --faults all</c>): a node whose
/// start-up join reached no seed stayed alone in its gossip view forever, because SWIM only talks to members it knows.
/// </summary>
public sealed class GossipRejoinTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "walrus-rejoin-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemDevice _device = FileSystemDevice.Create(IoEngine.Psync);
    private readonly Clock _clock = new();
    private readonly Queue<Action> _network = new();
    private readonly Dictionary<string, WalrusNode> _running = new(StringComparer.Ordinal);

    [Fact]
    public void A_node_whose_seeds_were_all_down_at_start_finds_them_once_they_come_up()
    {
        var late = Create(2, seeds: ["node1"]);
        late.Start();
        _running["node2"] = late;
        Run(TimeSpan.FromSeconds(3));

        var seed = Create(1, seeds: []);
        seed.Start();
        _running["node1"] = seed;
        Run(TimeSpan.FromSeconds(5));

        Assert.Contains(seed.GetMembers(), m => m.Name == "2" && m.State == MemberState.Alive);
        Assert.Contains(late.GetMembers(), m => m.Name == "1" && m.State == MemberState.Alive);
    }

    private WalrusNode Create(ulong id, IReadOnlyList<string> seeds) => new(
        new NodeOptions
        {
            NodeId = id,
            GossipAddress = $"node{id}",
            DataDirectory = Path.Combine(_root, $"n{id}"),
            GossipSeeds = seeds,
            Storage = new StorageOptions { MaxSegmentBytes = 1 << 20, MaxEntryBytes = 64 * 1024, Durability = DurabilityPolicy.None },
        },
        _device,
        new Transport(this, $"node{id}"),
        _clock,
        new Random((int)id));

    private void Run(TimeSpan duration)
    {
        var end = _clock.Now + duration;
        while (_clock.Now < end)
        {
            while (_network.TryDequeue(out var deliver))
            {
                deliver();
            }

            _clock.Now += TimeSpan.FromMilliseconds(10);
            foreach (var node in _running.Values)
            {
                node.Tick();
            }
        }
    }

    public void Dispose()
    {
        foreach (var node in _running.Values)
        {
            node.Dispose();
        }

        _device.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    private sealed class Clock : INodeClock
    {
        public TimeSpan Now { get; set; }
    }

    /// <summary>Delivers to running nodes only: a message to a node that is not up is lost.</summary>
    private sealed class Transport(GossipRejoinTests test, string from) : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
        }

        public void SendGossip(string address, bool reliable, byte[] payload) =>
            test._network.Enqueue(() =>
            {
                if (test._running.TryGetValue(address, out var node))
                {
                    node.ReceiveGossip(from, reliable, payload);
                }
            });
    }
}
