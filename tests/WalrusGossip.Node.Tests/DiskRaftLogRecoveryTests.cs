using WalrusGossip.Raft;
using WalrusGossip.Storage;

namespace WalrusGossip.Node.Tests;

/// <summary>What start-up makes of a hard state whose commit index passes the log left after a crash.</summary>
public sealed class DiskRaftLogRecoveryTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "walrus-commit-" + Guid.NewGuid().ToString("N"));

    [Theory]
    [InlineData("none")]
    [InlineData("interval:10")]
    public void Under_a_non_durable_policy_a_commit_index_past_the_surviving_log_refuses_start_up_saying_the_tail_was_lost(string durability)
    {
        WriteThenLoseTail();
        using var storage = NodeStorage.Open(_dir, Options(DurabilityPolicy.Parse(durability)));

        var error = Assert.Throws<RaftInvariantViolationException>(() => new DiskRaftLog(storage));
        Assert.Contains("persisted commit 10 is beyond the last index 6: the log's tail was lost in a crash under durability", error.Message, StringComparison.Ordinal);
        Assert.Contains("Move its data directory away", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Under_always_a_commit_index_past_the_log_is_a_lost_acknowledged_write_and_the_raft_core_refuses_it()
    {
        WriteThenLoseTail();
        using var storage = NodeStorage.Open(_dir, Options(DurabilityPolicy.Always));
        var log = new DiskRaftLog(storage);

        Assert.Equal(10ul, log.InitialState().HardState.Commit);
        var error = Assert.Throws<RaftInvariantViolationException>(() => new RaftNode(new RaftOptions { Id = 1, Random = new SeededRaftRandom(1) }, log));
        Assert.Contains("persisted commit 10 is beyond the last index 6", error.Message, StringComparison.Ordinal);
    }

    /// <summary>Ten entries and a hard state (term 3, vote 1, commit 10), then the log's entries after 6 gone, as a crash under none can leave them.</summary>
    private void WriteThenLoseTail()
    {
        using var storage = NodeStorage.Open(_dir, Options(DurabilityPolicy.Always));
        var log = new DiskRaftLog(storage);
        log.AppendEntries([.. Enumerable.Range(1, 10).Select(i => new LogEntry((ulong)i, 1, EntryType.Normal, new byte[] { (byte)i }))]);
        storage.HardState.Save(new HardState(3, 1, 10));
        storage.Log.TruncateSuffix(7);
    }

    private static StorageOptions Options(DurabilityPolicy durability) => new() { InlineWrites = true, Durability = durability, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 };

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}
