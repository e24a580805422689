using WalrusGossip.Storage.IO;
using WalrusGossip.Raft;

namespace WalrusGossip.Storage.Tests;

public class LogStoreTests
{
    public static TheoryData<IoEngine> Engines => TestStores.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Entries_round_trip_across_many_segment_rolls_and_a_reopen(IoEngine engine)
    {
        using var dir = new TempDir();
        const int Count = 3000;
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= Count; i++)
            {
                var index = await storage.Log.AppendAsync(TestStores.PayloadFor(i, (int)(i % 97) * 3), term: (i / 500) + 1, flags: (byte)i);
                Assert.Equal(i, index);
            }

            Assert.True(storage.Log.SegmentCount > 5, $"expected several segments, got {storage.Log.SegmentCount}");
            AssertLogContent(storage.Log, Count);
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(0, reopened.Log.RecoveredTornBytes);
        AssertLogContent(reopened.Log, Count);
        Assert.Equal((ulong)Count + 1, await reopened.Log.AppendAsync(new byte[3], term: 9));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Read_range_respects_count_and_byte_bounds_and_returns_at_least_one_entry(IoEngine engine)
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, engine);
        for (ulong i = 1; i <= 100; i++)
        {
            await storage.Log.AppendAsync(new byte[100], term: 1);
        }

        var list = new List<LogEntry>();
        Assert.Equal(10, storage.Log.ReadRange(5, 10, long.MaxValue, list));
        Assert.Equal(Enumerable.Range(5, 10).Select(i => (ulong)i), list.Select(e => e.Index));
        list.Clear();
        Assert.Equal(3, storage.Log.ReadRange(1, 100, 350, list));
        list.Clear();
        Assert.Equal(1, storage.Log.ReadRange(1, 100, 1, list));
        list.Clear();
        Assert.Equal(6, storage.Log.ReadRange(95, 100, long.MaxValue, list));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Batch_append_with_caller_indexes_is_written_in_order(IoEngine engine)
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, engine);
        var batch = Enumerable.Range(1, 50).Select(i => new LogEntry((ulong)i, 3, EntryType.Normal, TestStores.PayloadFor((ulong)i, 500))).ToList();
        Assert.Equal(50ul, await storage.Log.AppendBatchAsync(batch));
        Assert.Equal(3ul, storage.Log.TermAt(50));
        Assert.Throws<ArgumentException>(() => storage.Log.AppendBatchAsync([new LogEntry(52, 3, EntryType.Normal, default)]));
        Assert.Equal(50ul, storage.Log.LastIndex);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Sixty_four_concurrent_appenders_get_distinct_gap_free_indexes(IoEngine engine)
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, engine, o => o.MaxSegmentBytes = 1 << 20);
        const int Writers = 64, PerWriter = 100;
        var results = await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(async () =>
        {
            var mine = new List<ulong>();
            for (var i = 0; i < PerWriter; i++)
            {
                mine.Add(await storage.Log.AppendAsync(TestStores.PayloadFor((ulong)w, 64), term: 1));
            }

            return mine;
        })));
        var all = results.SelectMany(r => r).Order().ToList();
        Assert.Equal(Enumerable.Range(1, Writers * PerWriter).Select(i => (ulong)i), all);
        Assert.Equal((ulong)(Writers * PerWriter), storage.Log.LastIndex);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Interval_and_none_policies_append_and_survive_a_clean_reopen(IoEngine engine)
    {
        foreach (var policy in new[] { "interval:5", "none" })
        {
            using var dir = new TempDir();
            using (var storage = TestStores.Open(dir.Path, engine, o => o.Durability = DurabilityPolicy.Parse(policy)))
            {
                for (var i = 0; i < 500; i++)
                {
                    await storage.Log.AppendAsync(new byte[300], term: 2);
                }
            }

            using var reopened = TestStores.Open(dir.Path, engine);
            Assert.Equal(500ul, reopened.Log.LastIndex);
        }
    }

    [Fact]
    public void Hard_state_round_trips_and_a_damaged_file_is_reported()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            Assert.Equal(default, storage.HardState.Load());
            storage.HardState.Save(new HardState(5, 2, 99));
            Assert.Equal(new HardState(5, 2, 99), storage.HardState.Load());
        }

        var path = Path.Combine(dir.Path, "raft", "hardstate");
        var bytes = File.ReadAllBytes(path);
        bytes[20] ^= 1;
        File.WriteAllBytes(path, bytes);
        var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, IoEngine.Psync));
        Assert.Contains("hardstate", error.FilePath, StringComparison.Ordinal);
    }

    internal static void AssertLogContent(LogStore log, int count)
    {
        Assert.Equal(1ul, log.FirstIndex);
        Assert.Equal((ulong)count, log.LastIndex);
        var list = new List<LogEntry>();
        var next = 1ul;
        while (next <= (ulong)count)
        {
            list.Clear();
            log.ReadRange(next, 257, 40_000, list);
            foreach (var e in list)
            {
                Assert.Equal(next, e.Index);
                Assert.Equal((next / 500) + 1, e.Term);
                Assert.Equal((byte)next, e.Flags);
                Assert.Equal(TestStores.PayloadFor(next, (int)(next % 97) * 3), e.Payload.ToArray());
                next++;
            }
        }

        Assert.Equal(TestStores.PayloadFor(77, 77 % 97 * 3), log.Read(77).Payload.ToArray());
    }
}

public class InlineWriteTests
{
    [Fact]
    public async Task Inline_mode_completes_appends_before_returning_and_keeps_indexes_gap_free()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.InlineWrites = true))
        {
            var task = storage.Log.AppendAsync(new byte[10], term: 1);
            Assert.True(task.IsCompleted);
            Assert.Equal(1ul, await task);
            var all = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
            {
                var mine = new List<ulong>();
                for (var i = 0; i < 200; i++)
                {
                    mine.Add(await storage.Log.AppendAsync(new byte[500], term: 1));
                }

                return mine;
            })));
            Assert.Equal(Enumerable.Range(2, 1600).Select(i => (ulong)i), all.SelectMany(x => x).Order());
        }

        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(1601ul, reopened.Log.LastIndex);
    }

    [Theory]
    [InlineData(IoEngine.Psync)]
    [InlineData(IoEngine.Uring)]
    public async Task Inline_mode_with_background_segment_preparation_rolls_through_many_segments_and_recovers(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine, o => { o.InlineWrites = true; o.PrepareSegmentsInBackground = true; }))
        {
            for (var i = 1; i <= 400; i++)
            {
                Assert.Equal((ulong)i, await storage.Log.AppendAsync(Enumerable.Repeat((byte)i, 1000).ToArray(), term: 1));
            }
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(400ul, reopened.Log.LastIndex);
        Assert.True(Directory.GetFiles(Path.Combine(dir.Path, "log")).Length > 4, "several 64 KiB segments");
        Assert.Equal(Enumerable.Repeat((byte)123, 1000), reopened.Log.Read(123).Payload.ToArray());
    }

    [Fact]
    public async Task Sealed_segment_indexes_written_in_the_background_equal_those_written_inline_across_a_truncation()
    {
        using var background = new TempDir();
        using var inline = new TempDir();
        foreach (var (dir, inBackground) in new[] { (background, true), (inline, false) })
        {
            using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => { o.InlineWrites = true; o.PrepareSegmentsInBackground = inBackground; });
            for (ulong i = 1; i <= 300; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }

            storage.Log.TruncateSuffix(120); // deletes segments (and indexes) sealed a moment ago
            for (ulong i = 120; i <= 350; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i + 1000, 700), term: 2);
            }
        }

        static Dictionary<string, byte[]> Indexes(string dir) =>
            Directory.GetFiles(Path.Combine(dir, "log"), "*.idx").ToDictionary(p => Path.GetFileName(p), File.ReadAllBytes);
        var expected = Indexes(inline.Path);
        var actual = Indexes(background.Path);
        Assert.True(expected.Count >= 3, "several sealed segments");
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), actual.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, bytes) in expected)
        {
            Assert.Equal(bytes, actual[name]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Released_group_commit_buffers_grow_again_and_lose_nothing(bool inline)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.InlineWrites = inline))
        {
            var big = Enumerable.Range(1, 500).Select(i => new LogEntry((ulong)i, 1, EntryType.Normal, Enumerable.Repeat((byte)i, 4000).ToArray())).ToList();
            await storage.Log.AppendBatchAsync(big);
            storage.Log.Flush();
            storage.Log.ReleaseMemory();
            await storage.Log.AppendBatchAsync(big.Select(e => e with { Index = e.Index + 500 }).ToList());
            storage.Log.ReleaseMemory();
        }

        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(1000ul, reopened.Log.LastIndex);
        Assert.Equal(Enumerable.Repeat((byte)7, 4000), reopened.Log.Read(507).Payload.ToArray());
    }

    [Theory(Timeout = 60_000)]
    [InlineData(IoEngine.Psync)]
    [InlineData(IoEngine.Uring)]
    public async Task Inline_mode_writes_an_append_larger_than_one_batch_in_pieces_instead_of_waiting_forever(IoEngine engine)
    {
        // Regression: a follower catching up received one Ready of several MiB; the inline appender waited for a
        // writer thread that inline mode does not have, and the node loop hung.
        using var dir = new TempDir();
        var entries = Enumerable.Range(1, 1000).Select(i => new LogEntry((ulong)i, 1, EntryType.Normal, new byte[10_000])).ToList();
        using (var storage = TestStores.Open(dir.Path, engine, o => { o.InlineWrites = true; o.MaxBatchBytes = 256 << 10; }))
        {
            var task = storage.Log.AppendBatchAsync(entries);
            Assert.True(task.IsCompleted);
            Assert.Equal(1000ul, await task);
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(1000ul, reopened.Log.LastIndex);
    }
}

public class QueuedCompletionTests
{
    [Theory]
    [InlineData("none")]
    [InlineData("interval:50")]
    public async Task Without_always_an_append_completes_when_queued_and_is_readable_at_once(string policy)
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.Durability = DurabilityPolicy.Parse(policy));
        for (ulong i = 1; i <= 2000; i++)
        {
            var index = await storage.Log.AppendAsync(TestStores.PayloadFor(i, 300), term: 7);
            Assert.Equal(i, index);
            Assert.Equal(i, storage.Log.LastIndex);
            if (i % 97 == 0)
            {
                Assert.Equal(TestStores.PayloadFor(i, 300), storage.Log.Read(i).Payload.ToArray());
                Assert.Equal(7ul, storage.Log.TermAt(i));
            }
        }
    }
}
