using System.Diagnostics;
using WalrusGossip.Client;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Tests;

/// <summary>
/// Protocol-aware repair on real agents (issue 17 item 4; PAR, FAST 2018): a byte flipped in the middle of a sealed
/// segment's record while an agent is stopped is found at start, repaired from peers, the agent stays up, and
/// <c>walrusctl store verify</c> passes on its data directory afterwards.
/// </summary>
[Collection(AgentCollection.Name)]
public sealed class RepairTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_byte_flipped_in_a_stopped_agents_sealed_segment_is_repaired_from_peers_at_start(bool leaderDamaged)
    {
        await using var agents = new AgentProcesses();
        var leader = await StartThreeAsync(agents);
        var options = new WalrusClientOptions { CaFile = Path.Combine(agents.Certs, "ca.pem"), RequestTimeout = TimeSpan.FromSeconds(5), MaxRetries = 20 };
        foreach (var e in agents.ClientEndpoints([1, 2, 3]))
        {
            options.Endpoints.Add(e);
        }

        ulong last = 0;
        await using (var client = new WalrusClient(options))
        {
            var payload = new byte[8000];
            for (var i = 0; i < 400; i++) // about 3 MB: a dozen sealed segments
            {
                payload[0] = (byte)i;
                last = (await client.AppendAsync(payload, "repair")).Index;
            }
        }

        await AllAppliedAsync(agents, last);
        var victim = leaderDamaged ? leader : (leader % 3) + 1;
        await agents.StopAsync(victim);
        var dir = agents.DataDirOf(victim);
        var segment = Directory.GetFiles(Path.Combine(dir, "log"), "*.seg").Order(StringComparer.Ordinal).Skip(1).First();
        using (var f = File.Open(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 100_000; // inside an 8 KB payload in the middle of a sealed segment
            var b = f.ReadByte();
            f.Position = 100_000;
            f.WriteByte((byte)(b ^ 0x08));
        }

        Assert.NotEqual(0, (await AgentProcesses.RunWalrusctlAsync(null, "store", "verify", "--data-dir", dir)).ExitCode);
        var started = Stopwatch.StartNew();
        agents.Start(victim, ["--join", agents.JoinList(3), .. SmallSegments]);
        var logFile = Path.Combine(agents.Root, $"node-{victim}.out");
        string line;
        try
        {
            line = await AgentProcesses.EventuallyAsync(() => Task.FromResult(ReadShared(logFile).Split('\n').LastOrDefault(l => l.Contains("repaired log range", StringComparison.Ordinal))),
                TimeSpan.FromSeconds(30), "the restarted agent to repair its damaged range");
        }
        catch (TimeoutException)
        {
            output.WriteLine(await agents.DiagnosticsAsync(80));
            throw;
        }
        output.WriteLine($"agent {victim} (leader before: {leaderDamaged}) repaired in {started.ElapsedMilliseconds} ms after start: {line}");
        await AllAppliedAsync(agents, last);
        Assert.Contains("taking part in elections again", ReadShared(logFile), StringComparison.Ordinal);

        await agents.StopAsync(victim);
        var verify = await AgentProcesses.RunWalrusctlAsync(null, "store", "verify", "--data-dir", dir);
        Assert.True(verify.ExitCode == 0, verify.Output + verify.Error);
    }

    [Fact]
    public async Task A_record_damaged_under_a_running_agent_is_refused_to_readers_as_unavailable_then_repaired_from_peers()
    {
        await using var agents = new AgentProcesses();
        var leader = await StartThreeAsync(agents);
        ulong first = 0, last = 0;
        await using (var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3])))
        {
            var payload = new byte[8000];
            for (var i = 0; i < 100; i++)
            {
                payload[0] = (byte)i;
                last = (await client.AppendAsync(payload, "damage")).Index;
                first = first == 0 ? last : first;
            }
        }

        await AllAppliedAsync(agents, last);
        var victim = (leader % 3) + 1;
        var segment = Directory.GetFiles(Path.Combine(agents.DataDirOf(victim), "log"), "*.seg").Order(StringComparer.Ordinal).First();
        using (var f = new FileStream(segment, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            f.Position = 50_000; // inside an 8 KB payload of the first (sealed) segment, under the running agent
            var b = f.ReadByte();
            f.Position = 50_000;
            f.WriteByte((byte)(b ^ 0x04));
        }

        // A stale read at that agent reaches the damaged record: a typed UNAVAILABLE, never a broken connection.
        await using (var only = agents.NewClient(agents.ClientEndpoints([victim]), maxRetries: 0))
        {
            var error = await Assert.ThrowsAnyAsync<WalrusException>(() => only.ReadRangeAsync(first, 1000, consistency: Consistency.Stale));
            output.WriteLine(error.Message);
            Assert.Contains("damaged on this agent", error.Message, StringComparison.Ordinal);
        }

        // The read recorded the damage: the agent repairs the range from its peers and serves it again.
        var log = Path.Combine(agents.Root, $"node-{victim}.out");
        await AgentProcesses.EventuallyAsync(() => Task.FromResult(ReadShared(log).Contains("taking part in elections again", StringComparison.Ordinal) ? log : null),
            TimeSpan.FromSeconds(30), "the agent to repair the range it found damaged");
        await using (var again = agents.NewClient(agents.ClientEndpoints([victim])))
        {
            var entries = await AgentProcesses.ReadAllAsync(again, first, last);
            Assert.Equal((int)(last - first + 1), entries.Count);
        }
    }

    [Fact]
    public async Task A_replica_rewritten_with_valid_checksums_is_reported_by_check_consistency_status_metrics_and_the_log()
    {
        await using var agents = new AgentProcesses();
        var leader = await StartThreeAsync(agents);
        ulong first = 0, last = 0;
        await using (var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3]), maxRetries: 20))
        {
            var payload = new byte[4000];
            for (var i = 0; i < 200; i++) // about 800 KB: the first segments are sealed
            {
                payload[0] = (byte)i;
                last = (await client.AppendAsync(payload, "check")).Index;
                first = first == 0 ? last : first;
            }
        }

        await AllAppliedAsync(agents, last);
        string[] connect = ["--endpoints", string.Join(',', agents.ClientEndpoints([1, 2, 3])), "--ca", Path.Combine(agents.Certs, "ca.pem")];
        var clean = await AgentProcesses.RunWalrusctlAsync(null, ["check", "consistency", .. connect]);
        Assert.True(clean.ExitCode == 0, clean.Output + clean.Error);
        Assert.Contains("2 of 2 peers compared, 0 differ", clean.Output, StringComparison.Ordinal);

        // A follower's record gets another payload byte and a matching CRC while it is stopped: store verify passes.
        var victim = (leader % 3) + 1;
        await agents.StopAsync(victim);
        var dir = agents.DataDirOf(victim);
        var segment = Directory.GetFiles(Path.Combine(dir, "log"), "*.seg").Order(StringComparer.Ordinal).First();
        var bytes = await File.ReadAllBytesAsync(segment);
        Assert.NotNull(WalrusGossip.Storage.Records.SilentCorruption.FlipPayloadBit(bytes, first + 10));
        await File.WriteAllBytesAsync(segment, bytes);
        var verify = await AgentProcesses.RunWalrusctlAsync(null, "store", "verify", "--data-dir", dir);
        Assert.True(verify.ExitCode == 0, verify.Output + verify.Error);
        agents.Start(victim, ["--join", agents.JoinList(3), .. SmallSegments]);
        await AllAppliedAsync(agents, last);

        var found = await AgentProcesses.RunWalrusctlAsync(null, ["check", "consistency", "--json", .. connect]);
        output.WriteLine(found.Output.Trim());
        Assert.Equal(1, found.ExitCode);
        using var report = System.Text.Json.JsonDocument.Parse(found.Output);
        var line = report.RootElement.GetProperty("peers").EnumerateArray().Single(p => p.GetProperty("nodeId").GetInt32() == victim);
        Assert.Equal("mismatch", line.GetProperty("verdict").GetString());
        Assert.InRange(first + 10, line.GetProperty("firstIndex").GetUInt64(), line.GetProperty("lastIndex").GetUInt64());
        var checker = (int)report.RootElement.GetProperty("leaderId").GetUInt64();
        Assert.All(report.RootElement.GetProperty("peers").EnumerateArray().Where(p => p.GetProperty("nodeId").GetInt32() != victim),
            p => Assert.Equal("match", p.GetProperty("verdict").GetString()));

        var metrics = await AgentProcesses.MetricsAsync(agents.PortsOf(checker).Http);
        Assert.Contains("walrus_consistency_mismatches_total 1", metrics, StringComparison.Ordinal);
        var status = await AgentProcesses.RunWalrusctlAsync(null, ["status", "--json", .. connect]);
        using var nodes = System.Text.Json.JsonDocument.Parse(status.Output);
        var summary = nodes.RootElement.EnumerateArray().Single(n => n.TryGetProperty("nodeId", out var id) && id.GetInt32() == checker).GetProperty("consistency");
        Assert.Equal((1ul, (ulong)victim), (summary.GetProperty("mismatches").GetUInt64(), summary.GetProperty("lastMismatchNode").GetUInt64()));
        Assert.Contains("replica mismatch: node " + victim, ReadShared(Path.Combine(agents.Root, $"node-{checker}.out")), StringComparison.Ordinal);

        var refused = await AgentProcesses.RunWalrusctlAsync(null, ["check", "consistency", "--from", "5", .. connect]);
        Assert.Equal(2, refused.ExitCode);
    }

    /// <summary>256 KiB segments, so a few hundred entries of a few KB leave several sealed ones.</summary>
    private static readonly string[] SmallSegments = ["--Storage:MaxSegmentBytes=262144", "--Storage:MaxEntryBytes=16384"];

    /// <summary>Starts agents 1-3 with <see cref="SmallSegments"/>, bootstrapping together; returns the leader's id.</summary>
    private static async Task<int> StartThreeAsync(AgentProcesses agents)
    {
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3", .. SmallSegments]);
        }

        return (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
    }

    private static string ReadShared(string path)
    {
        if (!File.Exists(path))
        {
            return string.Empty;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        return new StreamReader(stream).ReadToEnd();
    }

    private static async Task AllAppliedAsync(AgentProcesses agents, ulong index) =>
        await AgentProcesses.EventuallyAsync<object>(async () =>
        {
            foreach (var id in new[] { 1, 2, 3 })
            {
                if (await agents.StatusAsync(id) is not { } s || s.GetProperty("appliedIndex").GetUInt64() < index)
                {
                    return null;
                }
            }

            return new object();
        }, TimeSpan.FromSeconds(60), $"every agent to apply {index}");
}
