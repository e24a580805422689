using WalrusGossip.Storage;
using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests;

/// <summary>The in-memory tail of <see cref="DiskRaftLog"/> must answer exactly what the segment files hold.</summary>
public sealed class DiskRaftLogTailTests
{
    [Fact]
    public void Entries_from_the_tail_cache_match_a_fresh_read_of_the_log_across_budgets_and_a_suffix_replacement()
    {
        var dir = Path.Combine(Path.GetTempPath(), "walrus-tail-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var storage = NodeStorage.Open(dir, new StorageOptions { InlineWrites = true, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 });
            var log = new DiskRaftLog(storage);
            var random = new Random(42);
            ulong next = 1;
            for (var batch = 0; batch < 400; batch++)
            {
                // Now and then a follower-style replacement of the last few entries with a newer term.
                if (batch % 50 == 49)
                {
                    next -= (ulong)random.Next(1, 5);
                }

                var entries = new List<LogEntry>();
                for (var i = random.Next(1, 20); i > 0; i--)
                {
                    var payload = new byte[random.Next(0, 20_000)];
                    random.NextBytes(payload);
                    entries.Add(new LogEntry(next++, 1 + ((ulong)batch / 50), EntryType.Normal, payload));
                }

                log.AppendEntries(entries);
            }

            var fresh = new DiskRaftLog(storage); // same files, empty cache
            var last = log.LastIndex;
            for (var round = 0; round < 500; round++)
            {
                var low = last - (ulong)random.Next(0, 400);
                var high = Math.Min(last + 1, low + (ulong)random.Next(1, 300));
                var maxBytes = random.Next(2) == 0 ? ulong.MaxValue : (ulong)random.Next(1, 200_000);
                var cached = log.Entries(low, high, maxBytes);
                var read = fresh.Entries(low, high, maxBytes);
                Assert.Equal(read.Count, cached.Count);
                for (var i = 0; i < read.Count; i++)
                {
                    Assert.Equal((read[i].Index, read[i].Term, read[i].Type), (cached[i].Index, cached[i].Term, cached[i].Type));
                    Assert.True(read[i].Payload.Span.SequenceEqual(cached[i].Payload.Span), $"payload of {read[i].Index} differs");
                }
            }

            Assert.True(log.TailHits > 0, "no entry came from the cache");
            Assert.Equal(0, fresh.TailHits);
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Opening_after_a_crash_between_a_received_snapshots_checkpoint_and_the_log_replacement_finishes_the_install()
    {
        var dir = Path.Combine(Path.GetTempPath(), "walrus-install-" + Guid.NewGuid().ToString("N"));
        try
        {
            var config = ClusterConfig.Create([1, 2, 3]);
            using (var storage = NodeStorage.Open(dir, new StorageOptions { InlineWrites = true, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 }))
            {
                var log = new DiskRaftLog(storage);
                log.AppendEntries([.. Enumerable.Range(1, 40).Select(i => new LogEntry((ulong)i, 1, EntryType.Normal, new byte[10]))]);

                // The first half of an InstallSnapshot at 100 (term 3): the checkpoint is durable, then the node crashes.
                storage.Checkpoints.Save(new Storage.Checkpoints.Checkpoint(100, 3, config.Encode(), new byte[] { 1, 2, 3 }));
            }

            using (var reopened = NodeStorage.Open(dir, new StorageOptions { InlineWrites = true, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 }))
            {
                var log = new DiskRaftLog(reopened);
                Assert.True(log.CompletedInterruptedInstall);
                Assert.Equal((101UL, 100UL), (reopened.Log.FirstIndex, log.LastIndex));
                log.AppendEntries([new LogEntry(101, 3, EntryType.Normal, new byte[10])]); // the leader's next append fits
                Assert.Equal(101UL, reopened.Log.LastIndex);
            }

            // A local checkpoint of entries the log holds is left alone.
            using (var again = NodeStorage.Open(dir, new StorageOptions { InlineWrites = true, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 }))
            {
                again.Checkpoints.Save(new Storage.Checkpoints.Checkpoint(101, 3, config.Encode(), new byte[] { 4 }));
            }

            using (var last = NodeStorage.Open(dir, new StorageOptions { InlineWrites = true, MaxSegmentBytes = 256 * 1024, MaxEntryBytes = 64 * 1024 }))
            {
                var log = new DiskRaftLog(last);
                Assert.False(log.CompletedInterruptedInstall);
                Assert.Equal((101UL, 101UL), (last.Log.FirstIndex, last.Log.LastIndex));
            }
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }
}
