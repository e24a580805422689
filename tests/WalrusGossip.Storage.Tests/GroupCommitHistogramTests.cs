using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

public sealed class GroupCommitHistogramTests
{
    [Fact]
    public void Durations_land_in_the_first_bucket_whose_bound_they_do_not_exceed()
    {
        var histogram = new GroupCommitHistogram();
        histogram.Record(TimeSpan.FromMicroseconds(100));  // <= 0.25 ms
        histogram.Record(TimeSpan.FromMicroseconds(250));  // exactly on the first bound
        histogram.Record(TimeSpan.FromMilliseconds(3));    // <= 4 ms
        histogram.Record(TimeSpan.FromSeconds(5));         // beyond every bound
        histogram.Record(TimeSpan.FromTicks(-1));          // a clock step back counts as zero

        var counts = new long[GroupCommitHistogram.BoundsSeconds.Count + 1];
        histogram.CopyCounts(counts);
        Assert.Equal(3, counts[0]);
        Assert.Equal(1, counts[4]);
        Assert.Equal(1, counts[^1]);
        Assert.Equal(5, counts.Sum());
        Assert.Equal(5, histogram.Count);
        Assert.Equal(TimeSpan.FromMicroseconds(100 + 250 + 3000) + TimeSpan.FromSeconds(5), histogram.Sum);
    }

    [Fact]
    public void A_destination_too_short_for_every_bucket_is_refused()
    {
        var histogram = new GroupCommitHistogram();
        Assert.Throws<ArgumentException>(() => histogram.CopyCounts(new long[GroupCommitHistogram.BoundsSeconds.Count]));
    }

    [Fact]
    public async Task Every_synced_group_commit_of_the_store_is_counted()
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.InlineWrites = true);
        for (ulong i = 1; i <= 5; i++)
        {
            await storage.Log.AppendAsync(TestStores.PayloadFor(i, 100), term: 1);
        }

        Assert.Equal(5, storage.Log.GroupCommitLatency.Count);
        Assert.True(storage.Log.GroupCommitLatency.Sum > TimeSpan.Zero);
    }
}
