using WalrusGossip.Node.Backup;
using WalrusGossip.Raft;
using WalrusGossip.Storage;

namespace WalrusGossip.Node.Tests;

/// <summary>The WBK1 backup file: round trip, every kind of damage refused with a typed error, restore into a data directory.</summary>
public sealed class BackupFileTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "walrus-backup-" + Guid.NewGuid().ToString("N"));

    private static (BackupHeader Header, List<LogEntry> Entries) Sample()
    {
        // A state machine that applied 1..10; the backup holds 6..20 (retention kept 6..10 before the checkpoint).
        var config = ClusterConfig.Create([1, 2, 3]);
        var entries = new List<LogEntry> { new(6, 1, EntryType.ConfigChange, config.Encode()) };
        for (ulong i = 7; i <= 20; i++)
        {
            entries.Add(new LogEntry(i, i < 15 ? 1UL : 2UL, EntryType.Normal, AppendCommand.Encode(77, i, i % 2 == 0 ? "even" : null, BitConverter.GetBytes(i))));
        }

        var machine = new LogStateMachine();
        machine.Apply(new LogEntry(1, 1, EntryType.ConfigChange, config.Encode()));
        for (ulong i = 2; i <= 10; i++)
        {
            machine.Apply(i < 6 ? new LogEntry(i, 1, EntryType.Normal, AppendCommand.Encode(77, i, null, [1])) : entries[(int)(i - 6)]);
        }

        var checkpoint = new RaftSnapshot(new SnapshotMetadata(10, 1, config), machine.EncodeSnapshot());
        return (new BackupHeader(checkpoint, 6, 20), entries);
    }

    private static async Task<byte[]> WriteAsync(BackupHeader header, List<LogEntry> entries)
    {
        using var stream = new MemoryStream();
        await BackupFile.WriteAsync(stream, header, (next, _) => Task.FromResult<IReadOnlyList<LogEntry>>(entries.Where(e => e.Index >= next).Take(4).ToList()), TestContext.Current.CancellationToken);
        return stream.ToArray();
    }

    [Fact]
    public async Task A_backup_round_trips_every_entry_and_the_checkpoint()
    {
        var (header, entries) = Sample();
        var bytes = await WriteAsync(header, entries);

        var read = new List<LogEntry>();
        var back = BackupFile.Read(new MemoryStream(bytes), null, e => read.Add(new LogEntry(e.Index, e.Term, e.Type, e.Payload.ToArray())));

        Assert.Equal((10UL, 1UL, 6UL, 20UL), (back.Checkpoint.Metadata.Index, back.Checkpoint.Metadata.Term, back.FirstIndex, back.LastIndex));
        Assert.Equal(header.Checkpoint.Data.ToArray(), back.Checkpoint.Data.ToArray());
        Assert.Equal(entries.Count, read.Count);
        Assert.All(entries.Zip(read), p => Assert.True(p.First.ContentEquals(p.Second)));
    }

    [Fact]
    public async Task Truncated_flipped_or_foreign_bytes_are_refused_with_a_typed_error()
    {
        var (header, entries) = Sample();
        var bytes = await WriteAsync(header, entries);

        Assert.Contains("truncated", Assert.Throws<BackupFormatException>(() => BackupFile.Read(new MemoryStream(bytes[..^5]), null, null)).Message);
        var flipped = (byte[])bytes.Clone();
        flipped[^40] ^= 0x01;
        Assert.Throws<BackupFormatException>(() => BackupFile.Read(new MemoryStream(flipped), null, null));
        Assert.Contains("magic", Assert.Throws<BackupFormatException>(() => BackupFile.Read(new MemoryStream(new byte[64]), null, null)).Message);
        Assert.Contains("after its trailer", Assert.Throws<BackupFormatException>(() => BackupFile.Read(new MemoryStream([.. bytes, 0]), null, null)).Message);
    }

    [Fact]
    public async Task Restore_seeds_a_data_directory_with_the_same_entries_and_a_checkpoint_for_the_new_voters_and_never_overwrites()
    {
        var (header, entries) = Sample();
        var bytes = await WriteAsync(header, entries);
        var dir = Path.Combine(_root, "n1");

        BackupFile.Restore(new MemoryStream(bytes), dir, [4, 5, 6], new StorageOptions { MaxSegmentBytes = StorageOptions.MinSegmentBytes, MaxEntryBytes = 16 * 1024 });

        using (var storage = NodeStorage.Open(dir, new StorageOptions { MaxSegmentBytes = StorageOptions.MinSegmentBytes, MaxEntryBytes = 16 * 1024 }))
        {
            Assert.Equal((6UL, 20UL), (storage.Log.FirstIndex, storage.Log.LastIndex));
            foreach (var e in entries)
            {
                Assert.True(e.ContentEquals(storage.Log.Read(e.Index)));
            }

            var checkpoint = storage.LatestCheckpoint!;
            Assert.Equal((20UL, 2UL), (checkpoint.Index, checkpoint.Term));
            Assert.True(ClusterConfig.TryDecode(checkpoint.Configuration.Span, out var config));
            Assert.Equal([4UL, 5, 6], config!.Voters);
            var machine = new LogStateMachine();
            machine.Restore(checkpoint.State, config);
            Assert.Equal(20UL, machine.AppliedIndex);
            Assert.Equal(SessionCheck.Duplicate, machine.CheckSession(77, 20, out var original));
            Assert.Equal(20UL, original);
            Assert.Equal(2UL, storage.HardState.Load().Term);
        }

        Assert.Throws<DataDirectoryException>(() => BackupFile.Restore(new MemoryStream(bytes), dir, [4, 5, 6], new StorageOptions()));
        var damaged = Path.Combine(_root, "n2");
        Assert.Throws<BackupFormatException>(() => BackupFile.Restore(new MemoryStream(bytes[..^3]), damaged, [1], new StorageOptions { MaxSegmentBytes = StorageOptions.MinSegmentBytes, MaxEntryBytes = 16 * 1024 }));
        Assert.False(Directory.Exists(damaged), "a failed restore leaves nothing behind");
    }

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }
}
