using WalrusGossip.Raft;
using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Storage.Tests;

/// <summary>
/// Damaged records in sealed segments (protocol-aware recovery, PAR, FAST 2018): open does not stop on them, a scrub
/// or a read records the range, reads into it raise <see cref="DamagedEntryException"/>, and a repair from entries
/// holding the expected terms rewrites it so that <see cref="StoreVerifier"/> passes again.
/// </summary>
public class DamageRepairTests
{
    private const int PayloadBytes = 500;
    private const int RecordBytes = RecordHeader.Size + PayloadBytes;
    private const ulong Count = 700;
    private const ulong FirstSegmentLastIndex = (64 * 1024) / RecordBytes; // the test stores' 64 KiB segments

    private static ulong TermFor(ulong index) => 1 + (index / 100);

    private static LogEntry Original(ulong index) => new(index, TermFor(index), EntryType.Normal, TestStores.PayloadFor(index, PayloadBytes));

    private static void AssertSame(LogEntry expected, LogEntry actual)
    {
        Assert.Equal((expected.Index, expected.Term, expected.Type, expected.Flags), (actual.Index, actual.Term, actual.Type, actual.Flags));
        Assert.Equal(expected.Payload.ToArray(), actual.Payload.ToArray());
    }

    private static async Task Fill(string dir)
    {
        using var storage = TestStores.Open(dir, IoEngine.Psync);
        for (ulong i = 1; i <= Count; i++)
        {
            Assert.Equal(i, await storage.Log.AppendAsync(TestStores.PayloadFor(i, PayloadBytes), term: TermFor(i)));
        }
    }

    /// <summary>Flips one byte of record <paramref name="slot"/> (0-based) of the first segment at <paramref name="within"/> bytes into it.</summary>
    private static void Flip(string dir, int slot, int within)
    {
        var path = TestStores.SegmentPath(dir, 1);
        using var f = File.Open(path, FileMode.Open, FileAccess.ReadWrite);
        f.Position = ((long)slot * RecordBytes) + within;
        var b = f.ReadByte();
        f.Position -= 1;
        f.WriteByte((byte)(b ^ 0x5A));
    }

    public static TheoryData<int, int> Damages => new()
    {
        { 10, RecordHeader.Size + 100 },   // payload byte of the 11th record
        { 10, 2 },                         // its length field
        { 10, 12 },                        // its index field
        { 40, RecordHeader.Size + 5 },     // a later record
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task A_flipped_byte_in_a_trusted_sealed_segment_is_found_by_scrub_and_repaired_from_verified_entries(int slot, int within)
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, slot, within);

        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            var log = storage.Log;
            Assert.Empty(log.DamagedRanges); // trusted from its index file: not seen at open
            var found = log.Scrub();
            var range = Assert.Single(found);
            Assert.Equal((ulong)slot + 1, range.FirstIndex);
            Assert.Equal((long)slot * RecordBytes, range.Offset);
            // A payload flip spoils one record; a flipped header leaves the rest of the segment unreachable.
            Assert.Equal(within >= RecordHeader.Size ? range.FirstIndex : FirstSegmentLastIndex, range.LastIndex);
            Assert.True(range.LastIndex < log.LastIndex);
            Assert.Equal(1, log.DamagedRangesFound);
            Assert.Empty(log.Scrub()); // known already

            Assert.Throws<DamagedEntryException>(() => log.Read(range.FirstIndex));
            Assert.Throws<DamagedEntryException>(() => log.Read(range.LastIndex));
            var before = new List<LogEntry>();
            Assert.Equal(slot, log.ReadRange(1, 1000, long.MaxValue, before)); // stops before the damage
            AssertSame(Original(range.LastIndex + 1), log.Read(range.LastIndex + 1));
            Assert.Equal(TermFor(range.FirstIndex), log.TermAt(range.FirstIndex)); // expected terms stay known

            var entries = Enumerable.Range(0, (int)range.Count).Select(i => Original(range.FirstIndex + (ulong)i)).ToList();
            var wrongTerm = entries.ToList();
            wrongTerm[^1] = wrongTerm[^1] with { Term = wrongTerm[^1].Term + 1 };
            Assert.Throws<ArgumentException>(() => log.RepairDamaged(range, wrongTerm));
            Assert.Throws<ArgumentException>(() => log.RepairDamaged(range, entries.Skip(1).ToList()));
            Assert.Single(log.DamagedRanges);

            log.RepairDamaged(range, entries);
            Assert.Empty(log.DamagedRanges);
            Assert.Equal((long)range.Count, log.EntriesRepaired);
            for (var i = range.FirstIndex; i <= range.LastIndex; i++)
            {
                AssertSame(Original(i), log.Read(i));
            }

            Assert.Empty(log.Scrub());
            Assert.Throws<InvalidOperationException>(() => log.RepairDamaged(range, entries));
        }

        Assert.True(StoreVerifier.Verify(dir.Path).Intact);
        using (var reopened = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            Assert.Equal(reopened.Log.SegmentCount - 1, reopened.Log.SegmentsTrusted);
            Assert.Empty(reopened.Log.Scrub());
            AssertSame(Original(1), reopened.Log.Read(1));
        }
    }

    [Fact]
    public async Task A_read_that_finds_a_bad_record_marks_the_range_damaged_and_a_repair_restores_the_index_file()
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, 20, RecordHeader.Size + 7);

        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            var log = storage.Log;
            Assert.Throws<LogCorruptionException>(() => log.Read(21));
            var range = Assert.Single(log.DamagedRanges);
            Assert.Equal(21ul, range.FirstIndex);
            Assert.Equal(21ul, range.LastIndex); // only the payload was hit: its neighbours stay readable
            AssertSame(Original(22), log.Read(22));
            log.RepairDamaged(range, Enumerable.Range(0, (int)range.Count).Select(i => Original(21 + (ulong)i)).ToList());
            AssertSame(Original(21), log.Read(21));
        }

        Assert.True(StoreVerifier.Verify(dir.Path).Intact);
        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(reopened.Log.SegmentCount - 1, reopened.Log.SegmentsTrusted); // the index file was written again
    }

    [Fact]
    public async Task A_repair_interrupted_after_part_of_its_records_leaves_a_store_that_opens_and_scrubs_to_the_rest()
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, 10, RecordHeader.Size + 3);
        Flip(dir.Path, 30, RecordHeader.Size + 3);

        // Simulate a crash mid-rewrite: only the first bad record was rewritten, the second is still damaged.
        var record = new byte[RecordBytes];
        RecordHeader.Encode(record, 11, TermFor(11), EntryType.Normal, 0, TestStores.PayloadFor(11, PayloadBytes));
        using (var f = File.Open(TestStores.SegmentPath(dir.Path, 1), FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 10L * RecordBytes;
            f.Write(record);
        }

        using var storage = TestStores.Open(dir.Path, IoEngine.Psync);
        var range = Assert.Single(storage.Log.Scrub());
        Assert.Equal(31ul, range.FirstIndex);
        AssertSame(Original(11), storage.Log.Read(11));
        storage.Log.RepairDamaged(range, Enumerable.Range(0, (int)range.Count).Select(i => Original(31 + (ulong)i)).ToList());
        Assert.Empty(storage.Log.Scrub());
    }

    [Fact]
    public async Task A_suffix_truncation_that_would_reopen_a_segment_with_damage_before_the_cut_is_refused_and_changes_nothing()
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, 10, RecordHeader.Size + 3);
        using var storage = TestStores.Open(dir.Path, IoEngine.Psync);
        var log = storage.Log;
        Assert.Single(log.Scrub());
        var segments = log.SegmentCount;

        // The cut falls on the first segment's end: the segments after it go, and the first would be reopened.
        var e = Assert.Throws<InvalidOperationException>(() => log.TruncateSuffix(FirstSegmentLastIndex + 1));
        Assert.Contains("repair them first", e.Message, StringComparison.Ordinal);
        Assert.Equal(Count, log.LastIndex);
        Assert.Equal(segments, log.SegmentCount);
        Assert.Equal(11UL, log.FirstDamagedIndex);
        AssertSame(Original(Count), log.Read(Count));
    }

    [Fact]
    public async Task A_suffix_truncation_at_or_before_the_damage_removes_it_without_reading_the_damaged_headers()
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, 40, 2); // the length field of index 41: the headers after it no longer chain
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            var log = storage.Log;
            Assert.Equal(41UL, Assert.Single(log.Scrub()).FirstIndex);
            log.TruncateSuffix(30);
            Assert.Empty(log.DamagedRanges);
            Assert.Equal(29UL, log.LastIndex);
            Assert.Equal(30UL, await log.AppendAsync(TestStores.PayloadFor(30, PayloadBytes), term: 99));
        }

        Assert.True(StoreVerifier.Verify(dir.Path).Intact);
        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(30UL, reopened.Log.LastIndex);
        Assert.Equal(99UL, reopened.Log.Read(30).Term);
        AssertSame(Original(29), reopened.Log.Read(29));
    }

    [Fact]
    public async Task A_sealed_segment_left_last_by_an_interrupted_truncation_opens_sealed_and_its_damage_is_found_by_scrub()
    {
        using var dir = new TempDir();
        await Fill(dir.Path);
        Flip(dir.Path, 10, RecordHeader.Size + 3);
        // A crash part-way through a truncation that deletes segments from the end: only the first is left, sealed.
        foreach (var segment in TestStores.SegmentFiles(dir.Path).Skip(1))
        {
            File.Delete(segment);
            File.Delete(Path.ChangeExtension(segment, ".idx"));
        }

        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            var log = storage.Log;
            Assert.Equal(FirstSegmentLastIndex, log.LastIndex);
            Assert.Equal(1, log.SegmentsTrusted);
            var range = Assert.Single(log.Scrub());
            Assert.Equal(11UL, range.FirstIndex);

            // The next append starts a new segment instead of writing into the sealed one.
            Assert.Equal(FirstSegmentLastIndex + 1, await log.AppendAsync(TestStores.PayloadFor(FirstSegmentLastIndex + 1, PayloadBytes), term: 50));
            Assert.Equal(2, log.SegmentCount);
            log.RepairDamaged(range, [Original(11)]);
        }

        Assert.True(StoreVerifier.Verify(dir.Path).Intact);
        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(FirstSegmentLastIndex + 1, reopened.Log.LastIndex);
        Assert.Empty(reopened.Log.Scrub());
        AssertSame(Original(11), reopened.Log.Read(11));
        Assert.Equal(50UL, reopened.Log.Read(FirstSegmentLastIndex + 1).Term);
    }
}
