using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

public class BadInputTests
{
    [Fact]
    public async Task Unknown_files_in_the_log_directory_are_refused_and_nothing_is_modified()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            await storage.Log.AppendAsync(new byte[10], term: 1);
        }

        var stray = Path.Combine(dir.Path, "log", "notes.txt");
        File.WriteAllText(stray, "hello");
        var segment = TestStores.SegmentPath(dir.Path, 1);
        var before = File.ReadAllBytes(segment);
        var error = Assert.Throws<DataDirectoryException>(() => TestStores.Open(dir.Path, IoEngine.Psync));
        Assert.Contains("notes.txt", error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(segment));
    }

    [Fact]
    public async Task Temporary_files_left_by_a_crash_during_an_atomic_replace_are_removed_on_open()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            await storage.Log.AppendAsync(new byte[10], term: 1);
        }

        // Found by the SIGKILL crash test: a kill while a sealed segment's sparse index was being replaced.
        var leftovers = new[] { "00000000000000000001.idx.tmp", "first-index.tmp", "spare-segment.tmp" }
            .Select(n => Path.Combine(dir.Path, "log", n)).ToArray();
        foreach (var path in leftovers)
        {
            File.WriteAllBytes(path, [1, 2, 3]);
        }

        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            Assert.Equal(1ul, storage.Log.LastIndex);
        }

        Assert.All(leftovers.Take(2), path => Assert.False(File.Exists(path)));
    }

    [Fact]
    public void A_data_directory_that_cannot_be_created_is_a_typed_error()
    {
        using var dir = new TempDir();
        var file = Path.Combine(dir.Path, "plain-file");
        File.WriteAllText(file, "x");
        Assert.Throws<DataDirectoryException>(() => TestStores.Open(Path.Combine(file, "data"), IoEngine.Psync));
    }

    [Fact]
    public void A_second_open_of_the_same_directory_is_refused_while_the_first_holds_it()
    {
        using var dir = new TempDir();
        using var first = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Throws<DataDirectoryException>(() => TestStores.Open(dir.Path, IoEngine.Psync));
    }

    [Fact]
    public async Task A_payload_above_the_limit_is_rejected_and_nothing_is_written()
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.MaxEntryBytes = 1000);
        var error = Assert.Throws<EntryTooLargeException>(() => storage.Log.AppendAsync(new byte[1001], term: 1));
        Assert.Equal((1001L, 1000L), (error.PayloadBytes, error.MaxEntryBytes));
        Assert.Equal(0ul, storage.Log.LastIndex);
        Assert.Equal(1ul, await storage.Log.AppendAsync(new byte[1000], term: 1));
    }

    [Fact]
    public async Task Reads_below_the_first_or_above_the_last_index_are_typed_errors()
    {
        using var dir = new TempDir();
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(1));
        for (var i = 0; i < 10; i++)
        {
            await storage.Log.AppendAsync(new byte[10], term: 1);
        }

        storage.Log.TruncatePrefix(4);
        Assert.True(Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(3)).IsCompacted);
        Assert.False(Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(11)).IsCompacted);
        Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(0));
    }

    [Theory]
    [InlineData("sometimes")]
    [InlineData("interval:")]
    [InlineData("interval:0")]
    [InlineData("interval:-5")]
    [InlineData("interval:999999")]
    public void Bad_durability_policies_are_configuration_errors(string text) =>
        Assert.Throws<StorageConfigurationException>(() => DurabilityPolicy.Parse(text));

    [Fact]
    public void Out_of_range_options_are_configuration_errors()
    {
        Assert.Throws<StorageConfigurationException>(() => new StorageOptions { MaxSegmentBytes = 10 }.Validate());
        Assert.Throws<StorageConfigurationException>(() => new StorageOptions { MaxEntryBytes = -1 }.Validate());
        Assert.Throws<StorageConfigurationException>(() => new StorageOptions { MaxBatchBytes = 5 }.Validate());
        Assert.Equal("interval:25", DurabilityPolicy.Parse("Interval:25").ToString());
    }
}
