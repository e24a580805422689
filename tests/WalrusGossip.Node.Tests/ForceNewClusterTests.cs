using WalrusGossip.Node.Recovery;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node.Tests;

public sealed class ForceNewClusterTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "walrus-recover-" + Guid.NewGuid().ToString("N"));
    private readonly FileSystemDevice _device = FileSystemDevice.Create(IoEngine.Psync);
    private readonly StorageOptions _options = new() { MaxSegmentBytes = StorageOptions.MinSegmentBytes, MaxEntryBytes = 16 * 1024, IoEngine = IoEngine.Psync };

    [Fact]
    public void Keeps_every_entry_appends_a_one_voter_configuration_in_a_higher_term_and_commits_it()
    {
        Seed(entries: 200, lastTerm: 4, hardState: new HardState(5, 2, 150));
        var result = ForceNewCluster.Run(_device, _dir, 3, _options);
        Assert.Equal(200ul, result.LastIndex);
        Assert.Equal(201ul, result.ConfigIndex);
        Assert.Equal(6ul, result.Term);
        Assert.Equal(150ul, result.PreviousCommit);
        Assert.Equal([1ul, 2, 3], result.PreviousConfig.Voters);

        using var store = NodeStorage.Open(_device, _dir, _options);
        Assert.Equal(new HardState(6, 3, 201), store.HardState.Load());
        Assert.Equal(201ul, store.Log.LastIndex);
        var entry = store.Log.Read(201);
        Assert.Equal(EntryType.ConfigChange, entry.Type);
        Assert.True(ClusterConfig.TryDecode(entry.Payload.Span, out var config));
        Assert.Equal([3ul], config!.Voters);
        Assert.Empty(config.Learners);
        for (ulong i = 2; i <= 200; i++)
        {
            Assert.Equal(new byte[] { (byte)i, 7 }, store.Log.Read(i).Payload.ToArray());
        }
    }

    [Fact]
    public void A_node_started_on_the_recovered_directory_elects_itself_and_applies_every_entry()
    {
        Seed(entries: 50, lastTerm: 2, hardState: new HardState(2, 1, 10));
        ForceNewCluster.Run(_device, _dir, 3, _options);
        var clock = new ManualClock();
        using var node = new WalrusNode(new NodeOptions { NodeId = 3, GossipAddress = "node3", DataDirectory = _dir, Storage = _options }, _device, new NullTransport(), clock, new Random(3));
        node.Start();
        for (var i = 0; i < 300 && node.Status.Role != RaftRole.Leader; i++)
        {
            clock.Now += TimeSpan.FromMilliseconds(10);
            node.Tick();
        }

        Assert.Equal(RaftRole.Leader, node.Status.Role);
        Assert.True(node.AppliedIndex >= 51);
        Assert.Equal([3ul], node.Status.Voters);
    }

    [Fact]
    public void Refuses_an_empty_directory_a_removed_node_and_node_id_zero()
    {
        Assert.Throws<RecoveryRefusedException>(() => ForceNewCluster.Run(_device, _dir, 3, _options));
        Seed(entries: 5, lastTerm: 1, hardState: new HardState(1, 0, 5));
        using (var store = NodeStorage.Open(_device, _dir, _options))
        {
            store.SaveRemoval(4);
        }

        Assert.Throws<RecoveryRefusedException>(() => ForceNewCluster.Run(_device, _dir, 3, _options));
        Assert.Throws<ArgumentOutOfRangeException>(() => ForceNewCluster.Run(_device, _dir, 0, _options));
    }

    [Fact]
    public void Refuses_a_directory_a_running_node_holds()
    {
        Seed(entries: 5, lastTerm: 1, hardState: new HardState(1, 0, 5));
        using var held = NodeStorage.Open(_device, _dir, _options);
        Assert.Throws<DataDirectoryException>(() => ForceNewCluster.Run(_device, _dir, 3, _options));
    }

    private void Seed(int entries, ulong lastTerm, HardState hardState)
    {
        using var store = NodeStorage.Open(_device, _dir, _options);
        var batch = new List<LogEntry> { new(1, 1, EntryType.ConfigChange, ClusterConfig.Create([1, 2, 3]).Encode()) };
        for (ulong i = 2; i <= (ulong)entries; i++)
        {
            batch.Add(new LogEntry(i, i * lastTerm / (ulong)entries < 1 ? 1 : i * lastTerm / (ulong)entries, EntryType.Normal, new byte[] { (byte)i, 7 }));
        }

        store.Log.AppendBatchAsync(batch).AsTask().GetAwaiter().GetResult();
        store.HardState.Save(hardState);
    }

    public void Dispose()
    {
        _device.Dispose();
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    private sealed class ManualClock : INodeClock
    {
        public TimeSpan Now { get; set; }
    }

    private sealed class NullTransport : INodeTransport
    {
        public void SendRaft(RaftMessage message)
        {
        }

        public void SendGossip(string address, bool reliable, byte[] payload)
        {
        }
    }
}
