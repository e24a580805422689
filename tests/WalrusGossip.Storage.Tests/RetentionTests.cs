using System.Globalization;
using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Segments;

namespace WalrusGossip.Storage.Tests;

/// <summary>Retention picks whole segments to delete, within its limits and never past the bound it is given.</summary>
public sealed class RetentionTests
{
    private const int Entries = 1_000;

    [Fact]
    public async Task Keep_all_and_a_single_segment_delete_nothing()
    {
        using var dir = new TempDir();
        using var storage = await FilledAsync(dir.Path, 10);
        Assert.Equal(1ul, storage.Log.RetainFrom(RetentionPolicy.KeepAll, notAfter: 11));
        Assert.Equal(1ul, storage.Log.RetainFrom(new RetentionPolicy { MaxEntries = 1 }, notAfter: 11)); // one segment: always kept
    }

    [Fact]
    public async Task An_entry_limit_keeps_the_segment_holding_the_oldest_entry_within_it_and_reads_below_are_compacted()
    {
        using var dir = new TempDir();
        using var storage = await FilledAsync(dir.Path, Entries);
        var from = storage.Log.RetainFrom(new RetentionPolicy { MaxEntries = 100 }, notAfter: Entries + 1);
        var starts = SegmentStarts(dir.Path);
        Assert.Contains(from, starts);
        Assert.True(from <= Entries - 99, $"retained from {from}, after entry {Entries - 99}");
        Assert.True(starts.Last(s => s <= Entries - 99) == from, "not the segment holding the oldest entry within the limit");

        storage.Log.TruncatePrefix(from);
        Assert.Equal(from, storage.Log.FirstIndex);
        var error = Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(from - 1));
        Assert.True(error.IsCompacted);
        Assert.Equal(from, error.FirstIndex);
        Assert.Equal(TestStores.PayloadFor(from, 400), storage.Log.Read(from).Payload.ToArray());
        Assert.DoesNotContain(starts[0], SegmentStarts(dir.Path));
    }

    [Fact]
    public async Task A_byte_limit_keeps_at_most_that_many_bytes_before_the_newest_segment()
    {
        using var dir = new TempDir();
        using var storage = await FilledAsync(dir.Path, Entries);
        const long limit = 2 * 64 * 1024;
        storage.Log.TruncatePrefix(storage.Log.RetainFrom(new RetentionPolicy { MaxBytes = limit }, notAfter: Entries + 1));

        var files = Directory.GetFiles(Path.Combine(dir.Path, "log"), "*" + SegmentNames.SegmentExtension).Order().ToList();
        Assert.InRange(files.Count, 2, 3);
        Assert.True(storage.Log.DataBytes <= limit + (64 * 1024), $"{storage.Log.DataBytes} bytes kept");
        Assert.Equal((ulong)Entries, storage.Log.LastIndex);
    }

    [Fact]
    public async Task Nothing_at_or_after_the_bound_is_deleted()
    {
        using var dir = new TempDir();
        using var storage = await FilledAsync(dir.Path, Entries);
        var from = storage.Log.RetainFrom(new RetentionPolicy { MaxEntries = 10 }, notAfter: 200);
        Assert.Equal(SegmentStarts(dir.Path).Last(s => s <= 200), from);
        Assert.Equal(1ul, storage.Log.RetainFrom(new RetentionPolicy { MaxEntries = 10 }, notAfter: 1));
    }

    [Fact]
    public void A_negative_byte_limit_is_refused_naming_the_setting()
    {
        var options = new StorageOptions { Retention = new RetentionPolicy { MaxBytes = -1 } };
        var error = Assert.Throws<StorageConfigurationException>(options.Validate);
        Assert.Contains("Storage:Retention:MaxBytes", error.Message, StringComparison.Ordinal);
    }

    private static async Task<NodeStorage> FilledAsync(string dir, int count)
    {
        var storage = TestStores.Open(dir, IoEngine.Psync);
        for (ulong i = 1; i <= (ulong)count; i++)
        {
            await storage.Log.AppendAsync(TestStores.PayloadFor(i, 400), term: 1);
        }

        return storage;
    }

    private static List<ulong> SegmentStarts(string dir) =>
        Directory.GetFiles(Path.Combine(dir, "log"), "*" + SegmentNames.SegmentExtension)
            .Select(f => ulong.Parse(Path.GetFileNameWithoutExtension(f), CultureInfo.InvariantCulture))
            .Order()
            .ToList();
}
