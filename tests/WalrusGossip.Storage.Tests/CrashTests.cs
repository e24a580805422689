using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

/// <summary>
/// Real crashes: a child process appends under <c>always</c> and prints every acknowledged index; the test kills it
/// with SIGKILL at a seeded-random moment, reopens the store and checks that every acknowledged index is intact.
/// </summary>
public class CrashTests
{
    public static TheoryData<int> Runs
    {
        get
        {
            var data = new TheoryData<int>();
            for (var run = 0; run < 24; run++)
            {
                data.Add(run);
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Runs))]
    public async Task Every_acknowledged_append_survives_SIGKILL(int run)
    {
        var random = new Random(run);
        var engine = run % 2 == 0 ? IoEngine.Psync : IoEngine.Uring;
        TestStores.SkipIfUnavailable(engine);
        var writers = run % 3 == 0 ? 1 : 16;
        var killAfterAcks = random.Next(1, 1500);
        var extraDelay = TimeSpan.FromMilliseconds(random.Next(0, 5));
        using var dir = new TempDir();

        var acknowledged = new List<ulong>();
        // Two lives per run: the second child appends onto what the first left behind, after its recovery.
        for (var life = 0; life < 2; life++)
        {
            acknowledged.AddRange(await RunAndKill(dir.Path, engine, writers, killAfterAcks, extraDelay));
        }

        using var storage = TestStores.Open(dir.Path, IoEngine.Psync, o => o.MaxSegmentBytes = 256 * 1024);
        Assert.NotEmpty(acknowledged);
        var max = acknowledged.Max();
        Assert.True(storage.Log.LastIndex >= max, $"acknowledged index {max} lost: log ends at {storage.Log.LastIndex}");
        foreach (var index in acknowledged)
        {
            var entry = storage.Log.Read(index);
            Assert.Equal(index, entry.Index);
            Assert.Equal(208, entry.Payload.Length);
        }
    }

    private static async Task<List<ulong>> RunAndKill(string dir, IoEngine engine, int writers, int killAfterAcks, TimeSpan extraDelay)
    {
        var child = Path.Combine(AppContext.BaseDirectory, "WalrusGossip.Storage.CrashWriter.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { child, dir, engine.ToString(), writers.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        var acked = new List<ulong>();
        var deadline = Stopwatch.StartNew();
        while (acked.Count < killAfterAcks)
        {
            var line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60));
            if (line is null)
            {
                Assert.Fail($"crash writer exited early: {await errors}");
            }

            acked.Add(ulong.Parse(line!, CultureInfo.InvariantCulture));
        }

        var spin = Stopwatch.StartNew();
        while (spin.Elapsed < extraDelay)
        {
            Thread.SpinWait(100);
        }

        process.Kill(); // SIGKILL on Linux
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        string? rest;
        while ((rest = await process.StandardOutput.ReadLineAsync()) is not null)
        {
            if (ulong.TryParse(rest, CultureInfo.InvariantCulture, out var index))
            {
                acked.Add(index); // a line that reached the pipe was acknowledged before the kill
            }
        }

        return acked;
    }
}
