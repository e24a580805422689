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

    [Fact]
    public async Task An_age_limit_deletes_the_sealed_segments_last_written_longer_ago_and_keeps_the_younger_ones()
    {
        using var dir = new TempDir();
        var clock = new FixedClock(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var storage = await FilledAsync(dir.Path, Entries, clock);
        var starts = SegmentStarts(dir.Path);
        Assert.True(starts.Count >= 5, $"{starts.Count} segments");
        Age(dir.Path, starts, clock, old: 3, oldAge: TimeSpan.FromHours(2), youngAge: TimeSpan.FromMinutes(5));

        var from = storage.Log.RetainFrom(new RetentionPolicy { MaxAge = TimeSpan.FromHours(1) }, notAfter: Entries + 1);
        Assert.Equal(starts[3], from);
        storage.Log.TruncatePrefix(from);
        Assert.Equal(starts.Skip(3), SegmentStarts(dir.Path));
        Assert.Equal((ulong)Entries, storage.Log.LastIndex);

        // An hour and a half-minute after the oldest kept segment was written, the next (a minute younger) is within the limit.
        clock.Now = new DateTimeOffset(File.GetLastWriteTimeUtc(TestStores.SegmentPath(dir.Path, starts[3]))) + TimeSpan.FromMinutes(60.5);
        Assert.Equal(starts[4], storage.Log.RetainFrom(new RetentionPolicy { MaxAge = TimeSpan.FromHours(1) }, notAfter: Entries + 1));
    }

    [Fact]
    public async Task An_age_limit_never_deletes_past_the_bound_nor_the_newest_segment()
    {
        using var dir = new TempDir();
        var clock = new FixedClock(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var storage = await FilledAsync(dir.Path, Entries, clock);
        var starts = SegmentStarts(dir.Path);
        Age(dir.Path, starts, clock, old: starts.Count, oldAge: TimeSpan.FromDays(30), youngAge: TimeSpan.Zero);
        var policy = new RetentionPolicy { MaxAge = TimeSpan.FromDays(7) };

        Assert.Equal(starts[1], storage.Log.RetainFrom(policy, notAfter: starts[2] - 1)); // the segment holding the bound stays
        Assert.Equal(1ul, storage.Log.RetainFrom(policy, notAfter: 1));
        Assert.Equal(starts[^1], storage.Log.RetainFrom(policy, notAfter: Entries + 1)); // all old: only the newest is kept
        Assert.Equal(1ul, storage.Log.RetainFrom(new RetentionPolicy { MaxAge = TimeSpan.FromDays(31) }, notAfter: Entries + 1));
    }

    [Fact]
    public void A_negative_age_limit_is_refused_naming_the_setting()
    {
        var options = new StorageOptions { Retention = new RetentionPolicy { MaxAge = TimeSpan.FromSeconds(-1) } };
        var error = Assert.Throws<StorageConfigurationException>(options.Validate);
        Assert.Contains("Storage:Retention:MaxAge", error.Message, StringComparison.Ordinal);
        Assert.False(new RetentionPolicy { MaxAge = TimeSpan.FromDays(1) }.IsKeepAll);
    }

    [Fact]
    public void The_file_system_device_reports_a_file_s_modification_time_and_refuses_a_missing_file()
    {
        using var dir = new TempDir();
        using var device = FileSystemDevice.Create(IoEngine.Psync);
        var path = Path.Combine(dir.Path, "f");
        File.WriteAllBytes(path, [1]);
        var stamp = new DateTime(2029, 6, 1, 12, 0, 0, DateTimeKind.Utc);
        File.SetLastWriteTimeUtc(path, stamp);
        Assert.Equal(stamp, device.LastWriteTimeUtc(path));
        Assert.Throws<FileNotFoundException>(() => device.LastWriteTimeUtc(Path.Combine(dir.Path, "missing")));
    }

    /// <summary>Sets the first <paramref name="old"/> segment files' modification times <paramref name="oldAge"/> before the clock, the rest <paramref name="youngAge"/> before it, each a minute older than the next.</summary>
    private static void Age(string dir, List<ulong> starts, FixedClock clock, int old, TimeSpan oldAge, TimeSpan youngAge)
    {
        for (var i = 0; i < starts.Count; i++)
        {
            var age = i < old ? oldAge + TimeSpan.FromMinutes(old - i) : youngAge + TimeSpan.FromMinutes(starts.Count - i);
            File.SetLastWriteTimeUtc(TestStores.SegmentPath(dir, starts[i]), (clock.Now - age).UtcDateTime);
        }
    }

    [Fact]
    public async Task Retention_detaches_segments_at_once_and_deletes_their_files_in_the_background_after_the_first_index_is_durable()
    {
        using var dir = new TempDir();
        var deferred = new List<Action>();
        var defer = false;
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.RunInBackground = work =>
        {
            if (defer)
            {
                deferred.Add(work);
            }
            else
            {
                work();
            }

            return Task.CompletedTask;
        });
        for (ulong i = 1; i <= 600; i++)
        {
            await storage.Log.AppendAsync(TestStores.PayloadFor(i, 400), term: 1);
        }

        var before = SegmentStarts(dir.Path);
        var from = storage.Log.RetainFrom(new RetentionPolicy { MaxEntries = 100 }, 600);
        defer = true;
        storage.Log.TruncatePrefix(from);
        defer = false;

        Assert.Equal(from, storage.Log.FirstIndex);
        Assert.True(Assert.Throws<LogIndexOutOfRangeException>(() => storage.Log.Read(1)).IsCompacted);
        Assert.Equal(before, SegmentStarts(dir.Path)); // nothing deleted yet: the durable part waits for the background
        var removal = Assert.Single(deferred);
        removal();
        var after = SegmentStarts(dir.Path);
        Assert.True(after.Count < before.Count && after[0] <= from, $"segments {string.Join(",", after)} after retaining from {from}");
    }

    private static async Task<NodeStorage> FilledAsync(string dir, int count, TimeProvider? clock = null)
    {
        var storage = TestStores.Open(dir, IoEngine.Psync, o =>
        {
            o.TimeProvider = clock ?? TimeProvider.System;
            o.RunInBackground = work => { work(); return Task.CompletedTask; }; // deletions finish before the test looks at the files
        });
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

    /// <summary>A clock that reads what the test sets.</summary>
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
