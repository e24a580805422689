using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Storage.Tests;

public class RecoveryTests
{
    public static TheoryData<IoEngine> Engines => TestStores.Engines;

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Cut_at_every_byte_inside_the_last_record_reopens_with_exactly_the_complete_records(IoEngine engine)
    {
        using var dir = new TempDir();
        const int Count = 20;
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= Count; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 60), term: 1);
            }
        }

        var segment = TestStores.SegmentPath(dir.Path, 1);
        var original = File.ReadAllBytes(segment);
        var recordBytes = RecordHeader.Size + 60;
        var lastStart = (Count - 1) * recordBytes;
        for (var cut = lastStart; cut < lastStart + recordBytes; cut++)
        {
            File.WriteAllBytes(segment, original.AsSpan(0, cut).ToArray());
            using var storage = TestStores.Open(dir.Path, engine);
            Assert.Equal((ulong)Count - 1, storage.Log.LastIndex);
            Assert.InRange(storage.Log.RecoveredTornBytes, cut == lastStart ? 0 : 1, cut - lastStart); // trailing zero bytes are not counted
            Assert.Equal(TestStores.PayloadFor(Count - 1, 60), storage.Log.Read(Count - 1).Payload.ToArray());
            Assert.Equal((ulong)Count, await storage.Log.AppendAsync(TestStores.PayloadFor(Count, 60), term: 1));
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_flipped_bit_inside_a_trusted_sealed_segment_fails_its_read_and_store_verify_and_then_the_next_open(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 400; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }
        }

        var first = TestStores.SegmentPath(dir.Path, 1);
        var flipped = File.ReadAllBytes(first);
        var recordBytes = RecordHeader.Size + 500;
        flipped[(10 * recordBytes) + 100] ^= 0x10; // inside the payload of index 11, neither the first nor the last record
        File.WriteAllBytes(first, flipped);

        using (var storage = TestStores.Open(dir.Path, engine))
        {
            Assert.True(storage.Log.SegmentsTrusted >= 1); // open reads only the first and last record of a sealed segment
            var error = Assert.Throws<LogCorruptionException>(() => storage.Log.Read(11));
            Assert.Equal(11ul, error.Index);
            Assert.Equal(TestStores.PayloadFor(12, 500), storage.Log.Read(12).Payload.ToArray());
        }

        var report = StoreVerifier.Verify(dir.Path);
        Assert.False(report.Intact);
        Assert.Equal(11ul, Assert.Single(report.Corruptions).Index);

        // The failed read deleted the segment's index file: the next open scans it and stops, as before the index existed.
        Assert.False(File.Exists(Path.ChangeExtension(first, ".idx")));
        var atOpen = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
        Assert.Equal(11ul, atOpen.Index);
        Assert.Equal(10L * recordBytes, atOpen.Offset);
        Assert.Equal(flipped, File.ReadAllBytes(first));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_flipped_bit_in_a_sealed_segment_without_its_index_is_reported_at_open_with_its_index(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 400; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }
        }

        var first = TestStores.SegmentPath(dir.Path, 1);
        File.Delete(Path.ChangeExtension(first, ".idx"));
        var flipped = File.ReadAllBytes(first);
        var recordBytes = RecordHeader.Size + 500;
        flipped[(10 * recordBytes) + 100] ^= 0x10; // inside the payload of index 11
        File.WriteAllBytes(first, flipped);

        var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
        Assert.Equal(11ul, error.Index);
        Assert.Equal(10L * recordBytes, error.Offset);
        Assert.Equal(Path.GetFullPath(first), Path.GetFullPath(error.FilePath));
        Assert.Equal(flipped, File.ReadAllBytes(first));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_flipped_bit_in_an_acknowledged_batch_of_the_open_segment_is_corruption_not_a_torn_tail(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 10; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 100), term: 1);
            }
        }

        var segment = TestStores.SegmentPath(dir.Path, 1);
        var bytes = File.ReadAllBytes(segment);
        bytes[(3 * (RecordHeader.Size + 100)) + 50] ^= 1; // index 4; batches 5..10 follow it
        File.WriteAllBytes(segment, bytes);
        var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
        Assert.Equal(4ul, error.Index);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Under_a_non_durable_policy_a_torn_batch_behind_later_intact_ones_is_the_torn_tail_and_is_dropped_from_there(IoEngine engine)
    {
        // Under none or interval the page cache may write a later batch back before an earlier one; a crash then leaves
        // an earlier batch torn behind intact later ones. None of it was made durable, so it is the torn tail.
        using var dir = new TempDir();
        foreach (var (from, to) in new[] { (1ul, 4ul), (5ul, 7ul), (8ul, 10ul) }) // three sessions: three batches at least
        {
            using var storage = TestStores.Open(dir.Path, engine, o => o.Durability = DurabilityPolicy.None);
            for (var i = from; i <= to; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 100), term: 1);
            }
        }

        var segment = TestStores.SegmentPath(dir.Path, 1);
        var bytes = File.ReadAllBytes(segment);
        var recordBytes = RecordHeader.Size + 100;
        Array.Clear(bytes, (3 * recordBytes) + 20, 60); // index 4 torn: part of its payload never reached the disk
        File.WriteAllBytes(segment, bytes);

        // Opened as written under always, the intact later batches make it corruption, and nothing is touched.
        var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
        Assert.Equal(4ul, error.Index);
        Assert.Equal(bytes, File.ReadAllBytes(segment));

        using (var storage = TestStores.Open(dir.Path, engine, o => o.Durability = DurabilityPolicy.Every(TimeSpan.FromMilliseconds(10))))
        {
            Assert.Equal(3ul, storage.Log.LastIndex);
            Assert.Equal(TestStores.PayloadFor(3, 100), storage.Log.Read(3).Payload.ToArray());
            Assert.InRange(storage.Log.RecoveredTornBytes, (6L * recordBytes) + 1, 7L * recordBytes);
        }

        using (var storage = TestStores.Open(dir.Path, engine, o => o.Durability = DurabilityPolicy.None))
        {
            Assert.Equal((3ul, 0L), (storage.Log.LastIndex, storage.Log.RecoveredTornBytes)); // the drop was made durable at the first open
            Assert.Equal(4ul, await storage.Log.AppendAsync(TestStores.PayloadFor(4, 100), term: 2));
        }

        using (var reopened = TestStores.Open(dir.Path, engine))
        {
            Assert.Equal(4ul, reopened.Log.LastIndex); // the appended index 4 replaced the torn one, durably
            Assert.Equal(2ul, reopened.Log.TermAt(4));
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Missing_or_damaged_segment_index_files_are_rebuilt(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 300; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }
        }

        var indexFiles = Directory.GetFiles(Path.Combine(dir.Path, "log"), "*.idx").Order(StringComparer.Ordinal).ToArray();
        Assert.True(indexFiles.Length >= 2);
        var good = File.ReadAllBytes(indexFiles[1]);
        File.Delete(indexFiles[0]);
        File.WriteAllBytes(indexFiles[1], new byte[] { 1, 2, 3 });
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            Assert.Equal(300ul, storage.Log.LastIndex);
        }

        Assert.True(File.Exists(indexFiles[0]));
        Assert.Equal(good, File.ReadAllBytes(indexFiles[1]));
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_missing_middle_segment_is_reported_as_missing_indexes(IoEngine engine)
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            for (ulong i = 1; i <= 400; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }
        }

        var segments = TestStores.SegmentFiles(dir.Path);
        File.Delete(segments[1]);
        var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
        Assert.Contains("missing", error.Message, StringComparison.Ordinal);
    }
}
