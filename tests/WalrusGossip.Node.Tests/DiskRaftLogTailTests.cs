using System.Runtime.InteropServices;
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

                log.AppendEntries(CollectionsMarshal.AsSpan(entries));
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
                // ReadEntries (the committed-entries path, into a caller's list after what it holds) returns the same, cached or not.
                var into = new List<LogEntry> { default };
                var intoFresh = new List<LogEntry> { default };
                ((IRaftLogStorage)log).ReadEntries(low, high, maxBytes, into);
                ((IRaftLogStorage)fresh).ReadEntries(low, high, maxBytes, intoFresh);
                foreach (var other in new IReadOnlyList<LogEntry>[] { cached, into[1..], intoFresh[1..] })
                {
                    Assert.Equal(read.Count, other.Count);
                    for (var i = 0; i < read.Count; i++)
                    {
                        Assert.Equal((read[i].Index, read[i].Term, read[i].Type), (other[i].Index, other[i].Term, other[i].Type));
                        Assert.True(read[i].Payload.Span.SequenceEqual(other[i].Payload.Span), $"payload of {read[i].Index} differs");
                    }
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

    /// <summary>
    /// Walrus-sim seed 3: a learner far behind (last 31758, entries 31753.. of term 13 that never committed) got one
    /// Append replacing that suffix with 590 entries of terms 14-16, applied them, checkpointed and retained past the
    /// conflict point before the checker looked again. The node is right (the conflicting entries are gone, every
    /// retained index has the leader's term, also after a reopen); the checker kept its stale copy of the discarded
    /// entries below the new first index and reported them as committed.
    /// </summary>
    [Fact]
    public void A_conflicting_suffix_replaced_and_then_compacted_past_in_one_go_leaves_only_the_leaders_entries()
    {
        var dir = Path.Combine(Path.GetTempPath(), "walrus-replace-" + Guid.NewGuid().ToString("N"));
        try
        {
            var options = new StorageOptions { InlineWrites = true, MaxSegmentBytes = 64 * 1024, MaxEntryBytes = 4096 };
            var config = ClusterConfig.Create([1, 2, 3]);
            using (var storage = NodeStorage.Open(dir, options))
            {
                var log = new DiskRaftLog(storage);
                log.AppendEntries([.. Enumerable.Range(1, 58).Select(i => new LogEntry((ulong)i, 13, EntryType.Normal, new byte[1000]))]);

                // The leader's entries from 53 on (terms 14, then 15): the suffix 53..58 of term 13 conflicts.
                log.AppendEntries([.. Enumerable.Range(53, 590).Select(i => new LogEntry((ulong)i, i == 53 ? 14UL : 15UL, EntryType.Normal, new byte[1000]))]);
                Assert.Equal(642UL, log.LastIndex);
                Assert.True(log.TryGetTerm(53, out var term53) && term53 == 14);
                Assert.Equal(15UL, storage.Log.TermAt(58));
                Assert.Equal(15UL, storage.Log.Read(58).Term);

                // Applied through 637, checkpointed, and retention past the conflict point.
                log.Checkpoint(637, config, new byte[] { 7 }, retainFrom: 263);
                Assert.Equal(263UL, storage.Log.FirstIndex);
                Assert.False(log.TryGetTerm(58, out _));
                Assert.True(log.TryGetTerm(637, out var term637) && term637 == 15);
            }

            using (var reopened = NodeStorage.Open(dir, options))
            {
                var log = new DiskRaftLog(reopened);
                Assert.Equal(642UL, log.LastIndex);
                Assert.True(reopened.Log.FirstIndex <= 263); // the first-index file is written in the background
                for (var index = Math.Max(reopened.Log.FirstIndex, 54); index <= reopened.Log.LastIndex; index++)
                {
                    Assert.Equal(15UL, reopened.Log.TermAt(index));
                    Assert.Equal(15UL, reopened.Log.Read(index).Term);
                }
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
