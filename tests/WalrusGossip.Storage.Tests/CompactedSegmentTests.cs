using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Segments;
using WalrusGossip.Raft;

namespace WalrusGossip.Storage.Tests;

/// <summary>
/// Sealed segments keep one offset per <see cref="Segment.AnchorStride"/> records: reads walk from an anchor,
/// truncation re-expands the segment it cuts into. Every read must return exactly what a dense index would.
/// </summary>
public class CompactedSegmentTests
{
    public static TheoryData<IoEngine> Engines => TestStores.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Reads_of_compacted_segments_match_the_written_entries_under_every_budget_and_after_reopen(IoEngine engine)
    {
        using var dir = new TempDir();
        var sizes = PayloadSizes(seed: 7, count: 1_500);
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            await AppendAll(storage.Log, sizes);
            Assert.True(storage.Log.CompactSegmentCount >= 5, $"only {storage.Log.CompactSegmentCount} compacted segments");
            CheckReads(storage.Log, sizes);
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(reopened.Log.SegmentCount - 1, reopened.Log.CompactSegmentCount);
        CheckReads(reopened.Log, sizes);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Suffix_truncation_on_a_segment_boundary_reopens_the_sealed_segment_before_it_for_appends(IoEngine engine)
    {
        // walrus-sim seeds 103, 125, 165 and 166: a conflict cut exactly at the first index of a segment left a sealed,
        // compacted segment last, and the next append into it threw "exact offsets need Expand first".
        var sizes = PayloadSizes(seed: 13, count: 1_000);
        using var dir = new TempDir();
        ulong boundary;
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            await AppendAll(storage.Log, sizes);
            boundary = Directory.GetFiles(Path.Combine(dir.Path, "log"), "*" + SegmentNames.SegmentExtension)
                .Select(f => ulong.Parse(Path.GetFileNameWithoutExtension(f), System.Globalization.CultureInfo.InvariantCulture))
                .Order().Skip(2).First();
            storage.Log.TruncateSuffix(boundary);
            Assert.Equal(boundary - 1, storage.Log.LastIndex);
            Assert.Equal(boundary, await storage.Log.AppendAsync(TestStores.PayloadFor(60_000, 1), term: 2));
            Assert.Equal(TestStores.PayloadFor(60_000, 1), storage.Log.Read(boundary).Payload.ToArray());
            Assert.Equal(TestStores.PayloadFor(boundary - 1, sizes[(int)boundary - 2]), storage.Log.Read(boundary - 1).Payload.ToArray());
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(boundary, reopened.Log.LastIndex);
        Assert.Equal(2ul, reopened.Log.TermAt(boundary));
        Assert.Equal(TestStores.PayloadFor(60_000, 1), reopened.Log.Read(boundary).Payload.ToArray());
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Suffix_truncation_into_a_compacted_segment_expands_it_and_keeps_the_prefix(IoEngine engine)
    {
        var sizes = PayloadSizes(seed: 11, count: 1_000);
        foreach (var cutAt in new ulong[] { 2, 64, 65, 129, 200, 333 })
        {
            using var dir = new TempDir();
            using (var storage = TestStores.Open(dir.Path, engine))
            {
                await AppendAll(storage.Log, sizes);
                storage.Log.TruncateSuffix(cutAt);
                Assert.Equal(cutAt - 1, storage.Log.LastIndex);
                Assert.Equal(cutAt, await storage.Log.AppendAsync(TestStores.PayloadFor(50_000, 77), term: 2));
                for (ulong i = 1; i < cutAt; i++)
                {
                    Assert.Equal(TestStores.PayloadFor(i, sizes[(int)i - 1]), storage.Log.Read(i).Payload.ToArray());
                }

                Assert.Equal(TestStores.PayloadFor(50_000, 77), storage.Log.Read(cutAt).Payload.ToArray());
            }

            using var reopened = TestStores.Open(dir.Path, engine);
            Assert.Equal(cutAt, reopened.Log.LastIndex);
            Assert.Equal(2ul, reopened.Log.TermAt(cutAt));
            Assert.Equal(TestStores.PayloadFor(cutAt - 1, sizes[(int)cutAt - 2]), reopened.Log.Read(cutAt - 1).Payload.ToArray());
        }
    }

    [Fact]
    public async Task A_corrupt_record_in_a_compacted_segment_fails_its_read_with_a_typed_error_and_spares_its_neighbours()
    {
        using var dir = new TempDir();
        var sizes = Enumerable.Repeat(300, 600).ToArray();
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync);
        await AppendAll(storage.Log, sizes);
        Assert.True(storage.Log.CompactSegmentCount > 0);

        // Record 10 of the first segment: every record is 32 + 300 bytes; flip a payload byte behind the store's back.
        const ulong victim = 10;
        var offset = ((long)(victim - 1) * 332) + 100;
        await using (var file = new FileStream(TestStores.SegmentPath(dir.Path, 1), FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.Position = offset;
            var b = file.ReadByte();
            file.Position = offset;
            file.WriteByte((byte)(b ^ 0x40));
        }

        var error = Assert.Throws<LogCorruptionException>(() => storage.Log.Read(victim));
        Assert.Equal(victim, error.Index);
        Assert.Equal(TestStores.PayloadFor(victim + 1, 300), storage.Log.Read(victim + 1).Payload.ToArray());
        Assert.Equal(TestStores.PayloadFor(victim - 1, 300), storage.Log.Read(victim - 1).Payload.ToArray());
        // The failed read recorded the damaged range: a range read returns what precedes it, and a read of it says so.
        Assert.Equal([victim], storage.Log.DamagedRanges.Select(r => r.FirstIndex));
        var before = new List<LogEntry>();
        Assert.Equal((int)victim - 1, storage.Log.ReadRange(1, 100, long.MaxValue, before));
        Assert.Throws<DamagedEntryException>(() => storage.Log.ReadRange(victim, 100, long.MaxValue, []));
    }

    private static int[] PayloadSizes(int seed, int count)
    {
        var random = new Random(seed);
        // Mostly small, some near the 16 KiB entry limit of the test stores, some empty.
        return Enumerable.Range(0, count).Select(_ => random.Next(10) switch
        {
            0 => 0,
            1 => random.Next(8 * 1024, 16 * 1024),
            _ => random.Next(1, 700),
        }).ToArray();
    }

    private static async Task AppendAll(LogStore log, int[] sizes)
    {
        for (var i = 0; i < sizes.Length; i++)
        {
            Assert.Equal((ulong)i + 1, await log.AppendAsync(TestStores.PayloadFor((ulong)i + 1, sizes[i]), term: 1 + ((ulong)i / 400)));
        }
    }

    private static void CheckReads(LogStore log, int[] sizes)
    {
        var last = (ulong)sizes.Length;
        for (ulong i = 1; i <= last; i++)
        {
            var entry = log.Read(i);
            Assert.Equal(i, entry.Index);
            Assert.Equal(1 + ((i - 1) / 400), entry.Term);
            Assert.Equal(TestStores.PayloadFor(i, sizes[i - 1]), entry.Payload.ToArray());
        }

        var random = new Random(3);
        for (var round = 0; round < 300; round++)
        {
            var from = (ulong)random.Next(1, sizes.Length + 1);
            var maxCount = random.Next(1, 400);
            var maxBytes = random.Next(2) == 0 ? long.MaxValue : random.Next(1, 60_000);
            var got = new List<LogEntry>();
            var n = log.ReadRange(from, maxCount, maxBytes, got);
            Assert.Equal(Expected(from, maxCount, maxBytes), got.Select(e => e.Index).ToList());
            Assert.Equal(n, got.Count);
            foreach (var e in got)
            {
                Assert.Equal(TestStores.PayloadFor(e.Index, sizes[e.Index - 1]), e.Payload.ToArray());
            }
        }

        List<ulong> Expected(ulong from, int maxCount, long maxBytes)
        {
            var indexes = new List<ulong>();
            long bytes = 0;
            for (var i = from; i <= last && indexes.Count < maxCount; i++)
            {
                if (indexes.Count > 0 && bytes + sizes[i - 1] > maxBytes)
                {
                    break;
                }

                bytes += sizes[i - 1];
                indexes.Add(i);
            }

            return indexes;
        }
    }
}
