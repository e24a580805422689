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
}
