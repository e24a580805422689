using WalrusGossip.Simulation.Disk;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Simulation.Tests;

public sealed class SimulatedDiskTests
{
    [Fact]
    public void Synced_data_survives_a_crash_and_unsynced_data_is_lost_or_torn_by_sector()
    {
        var outcomes = new HashSet<string>(StringComparer.Ordinal);
        for (var seed = 0; seed < 40; seed++)
        {
            var disk = new SimulatedDisk(new Random(seed));
            var device = disk.Attach();
            device.CreateDirectory("/d");
            using (var file = device.Open("/d/f", DeviceOpenMode.CreateNew))
            {
                file.WriteAndSync(0, Filled(1024, 1));
                device.SyncDirectory("/d");
                file.Write(1024, Filled(2048, 2));
            }

            disk.Crash();
            var after = disk.Attach();
            using var reopened = after.Open("/d/f", DeviceOpenMode.ReadOnly);
            var bytes = new byte[reopened.Length];
            reopened.Read(0, bytes);
            Assert.All(bytes.AsSpan(0, 1024).ToArray(), b => Assert.Equal(1, b));
            var sectors = new List<char>();
            for (var s = 1024; s < bytes.Length; s += SimulatedDisk.SectorBytes)
            {
                var sector = bytes.AsSpan(s, Math.Min(SimulatedDisk.SectorBytes, bytes.Length - s)).ToArray();
                Assert.True(sector.All(b => b == 2) || sector.All(b => b == 0), "a sector lands whole or not at all");
                sectors.Add(sector[0] == 2 ? 'w' : '-');
            }

            outcomes.Add(new string([.. sectors]));
        }

        Assert.Contains(string.Empty, outcomes);
        Assert.Contains("wwww", outcomes);
        Assert.True(outcomes.Count > 3, "some writes are torn: only part of their sectors land");
    }

    [Fact]
    public void A_file_created_without_a_directory_sync_may_vanish_but_one_renamed_and_synced_stays()
    {
        var vanished = false;
        for (var seed = 0; seed < 20; seed++)
        {
            var disk = new SimulatedDisk(new Random(seed));
            var device = disk.Attach();
            device.CreateDirectory("/d");
            using (var file = device.Open("/d/a.tmp", DeviceOpenMode.CreateNew))
            {
                file.Write(0, Filled(10, 7));
                file.SyncAll();
            }

            device.Rename("/d/a.tmp", "/d/a");
            device.SyncDirectory("/d");
            using (var other = device.Open("/d/b", DeviceOpenMode.CreateNew))
            {
                other.WriteAndSync(0, Filled(10, 8));
            }

            disk.Crash();
            var after = disk.Attach();
            Assert.True(after.FileExists("/d/a"));
            Assert.False(after.FileExists("/d/a.tmp"));
            vanished |= !after.FileExists("/d/b");
        }

        Assert.True(vanished);
    }

    [Fact]
    public void An_armed_crash_fires_inside_a_device_call_and_the_old_handle_stays_dead()
    {
        var disk = new SimulatedDisk(new Random(1));
        var device = disk.Attach();
        device.CreateDirectory("/d");
        disk.ArmCrashAfterOps(1);
        var file = device.Open("/d/f", DeviceOpenMode.CreateNew);

        Assert.Throws<SimulatedCrashException>(() => file.Write(0, Filled(4, 1)));
        Assert.Throws<SimulatedCrashException>(() => device.FileExists("/d/f"));
        Assert.True(disk.Attach().ListFiles("/d").Count <= 1, "a new incarnation sees the durable state");
    }

    private static byte[] Filled(int length, byte value)
    {
        var bytes = new byte[length];
        Array.Fill(bytes, value);
        return bytes;
    }
}
