using System.Buffers.Binary;
using WalrusGossip.Raft;
using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Records;
using WalrusGossip.Storage.Segments;

namespace WalrusGossip.Storage.Tests;

/// <summary>
/// Reopen loads sealed segments from their <c>IDX2</c> index files instead of scanning them, scans only the open
/// segment, and falls back to a full scan (rewriting the index) whenever an index is missing, damaged, old or
/// inconsistent with its segment. Whatever was trusted, the log must read exactly as after a full scan.
/// </summary>
public class TrustedRecoveryTests
{
    private const int PayloadBytes = 500;
    private const int RecordBytes = RecordHeader.Size + PayloadBytes;
    private const ulong Count = 700;

    public static TheoryData<IoEngine> Engines => TestStores.Engines;

    public static TheoryData<string> Damages => new() { "missing", "truncated", "flipped", "old-format", "other-segment's", "empty" };

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Reopen_trusts_every_sealed_segment_and_scans_only_the_open_one(IoEngine engine)
    {
        using var dir = new TempDir();
        await Fill(dir.Path, engine);

        using var storage = TestStores.Open(dir.Path, engine);
        var log = storage.Log;
        Assert.True(log.SegmentCount >= 4, $"only {log.SegmentCount} segments");
        Assert.Equal(log.SegmentCount - 1, log.SegmentsTrusted);
        Assert.Equal(1, log.SegmentsScanned);
        var openSegmentFirst = TestStores.SegmentFiles(dir.Path).Select(FirstIndexOf).Max();
        Assert.Equal((long)(Count - openSegmentFirst + 1), log.RecoveredRecordsScanned);
        Assert.Equal((long)(openSegmentFirst - 1), log.RecoveredRecordsTrusted);
        Assert.Equal(log.SegmentCount - 1, log.CompactSegmentCount);
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Terms_and_reads_after_a_trusted_reopen_equal_those_after_a_full_scan(IoEngine engine)
    {
        using var dir = new TempDir();
        await Fill(dir.Path, engine);

        List<(ulong Index, ulong Term, EntryType Type, byte[] Payload, ulong TermAt)> trusted;
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            Assert.True(storage.Log.SegmentsTrusted >= 3);
            trusted = ReadAll(storage.Log);
        }

        foreach (var idx in IndexFiles(dir.Path))
        {
            File.Delete(idx);
        }

        using (var storage = TestStores.Open(dir.Path, engine))
        {
            Assert.Equal(0, storage.Log.SegmentsTrusted);
            Assert.Equal((long)Count, storage.Log.RecoveredRecordsScanned);
            var scanned = ReadAll(storage.Log);
            Assert.Equal(scanned.Count, trusted.Count);
            for (var i = 0; i < scanned.Count; i++)
            {
                Assert.Equal(scanned[i].Index, trusted[i].Index);
                Assert.Equal(scanned[i].Term, trusted[i].Term);
                Assert.Equal(scanned[i].TermAt, trusted[i].TermAt);
                Assert.Equal(scanned[i].Type, trusted[i].Type);
                Assert.Equal(scanned[i].Payload, trusted[i].Payload);
            }
        }

        for (var i = 0; i < trusted.Count; i++)
        {
            var index = (ulong)i + 1;
            Assert.Equal(TermFor(index), trusted[i].TermAt);
            Assert.Equal(TestStores.PayloadFor(index, PayloadBytes), trusted[i].Payload);
        }
    }

    [Theory]
    [MemberData(nameof(Damages))]
    public async Task An_unusable_index_file_falls_back_to_a_scan_of_its_segment_and_is_rewritten(string damage)
    {
        using var dir = new TempDir();
        await Fill(dir.Path, IoEngine.Psync);
        var indexes = IndexFiles(dir.Path);
        var victim = indexes[1];
        var good = File.ReadAllBytes(victim);
        switch (damage)
        {
            case "missing":
                File.Delete(victim);
                break;
            case "truncated":
                File.WriteAllBytes(victim, good.AsSpan(0, good.Length - 8).ToArray());
                break;
            case "flipped":
                var flipped = good.ToArray();
                flipped[40] ^= 0x01; // the term-run count: the CRC no longer matches
                File.WriteAllBytes(victim, flipped);
                break;
            case "old-format":
                File.WriteAllBytes(victim, OldFormatIndex());
                break;
            case "other-segment's":
                File.Copy(indexes[0], victim, overwrite: true); // intact, but describes another segment
                break;
            case "empty":
                File.WriteAllBytes(victim, []);
                break;
        }

        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            Assert.Equal(2, storage.Log.SegmentsScanned);
            Assert.Equal(storage.Log.SegmentCount - 2, storage.Log.SegmentsTrusted);
            CheckReads(storage.Log);
        }

        Assert.Equal(good, File.ReadAllBytes(victim));
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            Assert.Equal(1, storage.Log.SegmentsScanned);
            CheckReads(storage.Log);
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task A_corrupt_first_or_last_record_of_a_trusted_segment_is_detected_at_open(IoEngine engine)
    {
        using var dir = new TempDir();
        await Fill(dir.Path, engine);
        var segments = TestStores.SegmentFiles(dir.Path);
        var segment = segments[1];
        var first = FirstIndexOf(segment);
        var last = FirstIndexOf(segments[2]) - 1;
        var original = File.ReadAllBytes(segment);
        foreach (var (index, offset) in new[] { (first, 0L), (last, (long)(last - first) * RecordBytes) })
        {
            var bytes = original.ToArray();
            bytes[offset + RecordHeader.Size + 7] ^= 0x20;
            File.WriteAllBytes(segment, bytes);

            var error = Assert.Throws<LogCorruptionException>(() => TestStores.Open(dir.Path, engine));
            Assert.Equal(index, error.Index);
            Assert.Equal(offset, error.Offset);
            Assert.Equal(Path.GetFullPath(segment), Path.GetFullPath(error.FilePath));
            Assert.Equal(bytes, File.ReadAllBytes(segment));
        }
    }

    [Theory]
    [MemberData(nameof(Engines))]
    public async Task Suffix_truncation_into_a_trusted_segment_keeps_its_prefix_and_terms(IoEngine engine)
    {
        using var dir = new TempDir();
        await Fill(dir.Path, engine);
        var segments = TestStores.SegmentFiles(dir.Path);
        var cut = FirstIndexOf(segments[1]) + 70; // past the second anchor of the second segment
        using (var storage = TestStores.Open(dir.Path, engine))
        {
            Assert.True(storage.Log.SegmentsTrusted >= 3);
            storage.Log.TruncateSuffix(cut);
            Assert.Equal(cut - 1, storage.Log.LastIndex);
            Assert.Equal(cut, await storage.Log.AppendAsync(TestStores.PayloadFor(90_000, 10), term: 99));
            for (ulong i = 1; i < cut; i++)
            {
                Assert.Equal(TermFor(i), storage.Log.TermAt(i));
                Assert.Equal(TestStores.PayloadFor(i, PayloadBytes), storage.Log.Read(i).Payload.ToArray());
            }
        }

        Assert.False(File.Exists(Path.ChangeExtension(segments[1], SegmentNames.IndexExtension)));
        using var reopened = TestStores.Open(dir.Path, engine);
        Assert.Equal(cut, reopened.Log.LastIndex);
        Assert.Equal(99ul, reopened.Log.TermAt(cut));
        Assert.Equal(TermFor(cut - 1), reopened.Log.TermAt(cut - 1));
        Assert.Equal(TestStores.PayloadFor(90_000, 10), reopened.Log.Read(cut).Payload.ToArray());
        Assert.Equal(TestStores.PayloadFor(cut - 1, PayloadBytes), reopened.Log.Read(cut - 1).Payload.ToArray());
    }

    [Fact]
    public async Task Prefix_truncation_deletes_the_index_files_of_the_segments_it_removes()
    {
        using var dir = new TempDir();
        await Fill(dir.Path, IoEngine.Psync);
        var segments = TestStores.SegmentFiles(dir.Path);
        var keepFrom = FirstIndexOf(segments[2]);
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            storage.Log.TruncatePrefix(keepFrom);
        }

        Assert.Equal(IndexFiles(dir.Path).Select(FirstIndexOf), TestStores.SegmentFiles(dir.Path).SkipLast(1).Select(FirstIndexOf));
        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(keepFrom, reopened.Log.FirstIndex);
        Assert.Equal(reopened.Log.SegmentCount - 1, reopened.Log.SegmentsTrusted);
    }

    private static ulong TermFor(ulong index) => 1 + ((index - 1) / 90); // segments hold about 123 records: a term change in each

    private static async Task Fill(string dir, IoEngine engine)
    {
        using var storage = TestStores.Open(dir, engine);
        for (ulong i = 1; i <= Count; i++)
        {
            Assert.Equal(i, await storage.Log.AppendAsync(TestStores.PayloadFor(i, PayloadBytes), term: TermFor(i)));
        }
    }

    private static List<(ulong Index, ulong Term, EntryType Type, byte[] Payload, ulong TermAt)> ReadAll(LogStore log)
    {
        var entries = new List<LogEntry>();
        for (var from = log.FirstIndex; from <= log.LastIndex; from += (ulong)log.ReadRange(from, 50, long.MaxValue, entries))
        {
        }

        return entries.Select(e => (e.Index, e.Term, e.Type, e.Payload.ToArray(), log.TermAt(e.Index))).ToList();
    }

    private static void CheckReads(LogStore log)
    {
        Assert.Equal(Count, log.LastIndex);
        for (ulong i = 1; i <= Count; i++)
        {
            var entry = log.Read(i);
            Assert.Equal(TermFor(i), entry.Term);
            Assert.Equal(TermFor(i), log.TermAt(i));
            Assert.Equal(TestStores.PayloadFor(i, PayloadBytes), entry.Payload.ToArray());
        }
    }

    /// <summary>An intact <c>IDX1</c> file as the previous version wrote it: header only, no points.</summary>
    private static byte[] OldFormatIndex()
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0x3158_4449);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), Crc32C.Compute(bytes.AsSpan(8)));
        return bytes;
    }

    private static IReadOnlyList<string> IndexFiles(string dir) =>
        Directory.GetFiles(Path.Combine(dir, "log"), "*" + SegmentNames.IndexExtension).Order(StringComparer.Ordinal).ToList();

    private static ulong FirstIndexOf(string path) =>
        ulong.Parse(Path.GetFileNameWithoutExtension(path), System.Globalization.CultureInfo.InvariantCulture);
}
