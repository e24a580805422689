using WalrusGossip.Cli;
using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Storage.Tests;

public class WalrusctlStoreTests
{
    [Fact]
    public async Task Verify_returns_0_on_a_healthy_store_and_1_after_a_sealed_segment_byte_is_flipped()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            for (ulong i = 1; i <= 300; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
            }
        }

        Assert.Equal(0, StoreCommands.Verify(dir.Path, json: false));
        var report = StoreVerifier.Verify(dir.Path);
        Assert.Equal((1ul, 300ul, 0L), (report.FirstIndex, report.LastIndex, report.TornTailBytes));

        var sealedSegment = TestStores.SegmentFiles(dir.Path)[0];
        var bytes = File.ReadAllBytes(sealedSegment);
        bytes[(5 * (RecordHeader.Size + 500)) + 40] ^= 0x01;
        File.WriteAllBytes(sealedSegment, bytes);

        Assert.Equal(1, StoreCommands.Verify(dir.Path, json: true));
        var corrupt = Assert.Single(StoreVerifier.Verify(dir.Path).Corruptions);
        Assert.Equal(6ul, corrupt.Index);
        Assert.Equal(bytes, File.ReadAllBytes(sealedSegment));
    }

    [Fact]
    public async Task Verify_reports_a_torn_tail_as_intact_and_dump_shows_records()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            for (ulong i = 1; i <= 10; i++)
            {
                await storage.Log.AppendAsync(TestStores.PayloadFor(i, 100), term: 3);
            }
        }

        var segment = TestStores.SegmentPath(dir.Path, 1);
        var bytes = File.ReadAllBytes(segment);
        File.WriteAllBytes(segment, bytes.AsSpan(0, (9 * (RecordHeader.Size + 100)) + 50).ToArray());

        var report = StoreVerifier.Verify(dir.Path);
        Assert.True(report.Intact);
        Assert.Equal(9ul, report.LastIndex);
        Assert.True(report.TornTailBytes > 0);
        Assert.Equal(0, StoreCommands.Verify(dir.Path, json: false));

        var dumped = StoreVerifier.Dump(dir.Path, 4, 3);
        Assert.Equal(new ulong[] { 4, 5, 6 }, dumped.Select(d => d.Index));
        Assert.All(dumped, d => Assert.True(d.CrcOk && d.Term == 3 && d.PayloadLength == 100));
        Assert.Equal(0, StoreCommands.Dump(dir.Path, 1, 2, json: true));
    }

    [Fact]
    public void Verify_of_a_directory_that_is_not_a_data_directory_is_an_error() =>
        Assert.Throws<DirectoryNotFoundException>(() => StoreVerifier.Verify("/nonexistent/walrus"));
}
