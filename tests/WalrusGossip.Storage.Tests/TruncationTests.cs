using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

public class TruncationTests
{
    public static TheoryData<IoEngine> Engines => TestStores.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Suffix_truncation_removes_entries_across_segments_and_survives_reopen(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 500; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 400), term: 1);
            }

            var segmentsBefore = storage.Log.SegmentCount;
            storage.Log.TruncateSuffix(123);
            Assert.Equal(122ul, storage.Log.LastIndex);
            Assert.True(storage.Log.SegmentCount < segmentsBefore);
            Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(123));
            Assert.Equal(123ul, await storage.Log.AppendAsync(TestStores.PayloadFor(9999, 10), term: 2));
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(123ul, reopened.Log.LastIndex);
        Assert.Equal(2ul, reopened.Log.TermAt(123));
        Assert.Equal(TestStores.PayloadFor(9999, 10), reopened.Log.Read(123).Payload.ToArray());
        Assert.Equal(TestStores.PayloadFor(122, 400), reopened.Log.Read(122).Payload.ToArray());
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Prefix_truncation_hides_compacted_entries_deletes_whole_segments_and_survives_reopen(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 500; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 400), term: 1);
            }

            var segmentsBefore = storage.Log.SegmentCount;
            storage.Log.TruncatePrefix(300);
            Assert.Equal(300ul, storage.Log.FirstIndex);
            Assert.True(storage.Log.SegmentCount < segmentsBefore);
            var error = Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(299));
            Assert.True(error.IsCompacted);
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(300ul, reopened.Log.FirstIndex);
        Assert.Equal(500ul, reopened.Log.LastIndex);
        Assert.Equal(TestStores.PayloadFor(300, 400), reopened.Log.Read(300).Payload.ToArray());
        Assert.Throws<LogIndexOutOfRangeException>(() => reopened.Log.TermAt(299));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Prefix_truncation_past_the_end_empties_the_log_at_the_new_index(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 50; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 400), term: 1);
            }

            storage.Log.TruncatePrefix(1000);
            Assert.Equal((1000ul, 999ul), (storage.Log.FirstIndex, storage.Log.LastIndex));
            Assert.Equal(1000ul, await storage.Log.AppendAsync(new byte[5], term: 4));
        }

        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal((1000ul, 1000ul), (reopened.Log.FirstIndex, reopened.Log.LastIndex));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Truncations_outside_the_log_are_rejected_without_change(IoEngine engine)
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, engine);
        for (ulong i = 1; i <= 20; i++)
        {
            await storage.Log.AppendAsync(new byte[10], term: 1);
        }

        storage.Log.TruncatePrefix(5);
        Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.TruncateSuffix(4));
        Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.TruncateSuffix(22));
        storage.Log.TruncateSuffix(21);
        Assert.Equal((5ul, 20ul), (storage.Log.FirstIndex, storage.Log.LastIndex));
    }
}
