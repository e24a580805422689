using WalrusGossip.Storage.Checkpoints;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

public class CheckpointTests
{
    [Fact]
    public void Newest_two_checkpoints_are_kept_and_the_newest_loads()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            for (ulong i = 1; i <= 4; i++)
            {
                storage.Checkpoints.Save(new Checkpoint(i * 10, i, new byte[] { 1, 2 }, TestStores.PayloadFor(i, 1000)));
            }

            Assert.Equal(new ulong[] { 30, 40 }, storage.Checkpoints.ListIndexes());
        }

        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        var latest = reopened.LatestCheckpoint!;
        Assert.Equal((40ul, 4ul), (latest.Index, latest.Term));
        Assert.Equal(new byte[] { 1, 2 }, latest.Configuration.ToArray());
        Assert.Equal(TestStores.PayloadFor(4, 1000), latest.State.ToArray());
    }

    [Fact]
    public void A_crash_between_write_and_rename_leaves_the_previous_checkpoint_in_force()
    {
        using var dir = new TempDir();
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            storage.Checkpoints.Save(new Checkpoint(10, 1, default, new byte[] { 7 }));
            var newer = storage.Checkpoints.PathFor(20) + ".tmp";
            File.WriteAllBytes(newer, new byte[] { 1, 2, 3, 4, 5 }); // written, not yet renamed
        }

        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(10ul, reopened.LatestCheckpoint!.Index);
        Assert.False(File.Exists(reopened.Checkpoints.PathFor(20) + ".tmp"));
    }

    [Fact]
    public void A_damaged_newest_checkpoint_falls_back_to_the_previous_one()
    {
        using var dir = new TempDir();
        string newest;
        using (var storage = TestStores.Open(dir.Path, IoEngine.Psync))
        {
            storage.Checkpoints.Save(new Checkpoint(10, 1, default, new byte[] { 7 }));
            storage.Checkpoints.Save(new Checkpoint(20, 2, default, new byte[] { 8, 9 }));
            newest = storage.Checkpoints.PathFor(20);
        }

        var bytes = File.ReadAllBytes(newest);
        bytes[^1] ^= 0xFF;
        File.WriteAllBytes(newest, bytes);
        using var reopened = TestStores.Open(dir.Path, IoEngine.Psync);
        Assert.Equal(10ul, reopened.LatestCheckpoint!.Index);
        Assert.False(reopened.Checkpoints.Verify(20, out var problem));
        Assert.Equal("CRC mismatch", problem);
    }
}
