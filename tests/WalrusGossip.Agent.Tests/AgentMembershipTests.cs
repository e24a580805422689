using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using WalrusGossip.Client;

namespace WalrusGossip.Agent.Tests;

/// <summary>Membership operations on real agents: autopilot's dead-server replacement and an operator's removal, under load.</summary>
[Collection(AgentCollection.Name)]
public sealed class AgentMembershipTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Five_agents_with_three_voters_replace_a_SIGKILLed_voter_after_the_grace_period_without_losing_quorum_or_an_append()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(5);
        string[] policy = ["--Cluster:Voters=3", "--Cluster:DeadServerGrace=00:00:05"];
        for (var id = 1; id <= 5; id++)
        {
            agents.Start(id, [.. policy, "--join", agents.JoinList(5), .. id <= 3 ? new[] { "--bootstrap-expect", "3" } : []]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        await AgentProcesses.EventuallyAsync(async () => await agents.StatusAsync(leader) is { } s && Ids(s, "voters").Count == 3 && Ids(s, "learners").Count == 2 ? new Box(s) : null,
            TimeSpan.FromSeconds(60), "3 voters and 2 learners");

        await using var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3, 4, 5]), maxRetries: 30);
        using var load = new AppendLoad(client, workers: 8);
        await load.WaitForAcknowledgedAsync(500);
        var victim = Ids((await agents.StatusAsync(leader))!.Value, "voters").First(v => v != (ulong)leader);
        load.ResetGap();
        var killedAt = Stopwatch.GetTimestamp();
        agents.Kill((int)victim);
        var replaced = await AgentProcesses.EventuallyAsync(async () =>
            await agents.StatusAsync(leader) is { } s && Ids(s, "voters").Count == 3 && !Ids(s, "voters").Contains(victim) && !Ids(s, "learners").Contains(victim) ? new Box(s) : null,
            TimeSpan.FromSeconds(90), $"voter {victim} replaced");
        var replacedAfter = Stopwatch.GetElapsedTime(killedAt);
        await load.WaitForAcknowledgedAsync(load.Acknowledged.Count + 500);
        var (stall, acknowledged) = await load.StopAsync();

        output.WriteLine($"voter {victim} SIGKILLed; replaced after {replacedAfter.TotalSeconds:F1} s (grace 5 s + SWIM detection); voters now [{string.Join(',', Ids(replaced.Element, "voters"))}], learners [{string.Join(',', Ids(replaced.Element, "learners"))}]");
        output.WriteLine($"{acknowledged.Count} appends acknowledged; longest gap between acknowledgements {stall.TotalMilliseconds:F0} ms, ending {Stopwatch.GetElapsedTime(killedAt, load.LongestGapEnded).TotalMilliseconds:F0} ms after the kill");
        Assert.True(stall < TimeSpan.FromSeconds(3), $"appends stalled for {stall.TotalMilliseconds:F0} ms: quorum was lost during the change");
        await AssertAllCommittedAsync(client, acknowledged);
        var metrics = await AgentProcesses.MetricsAsync(agents.PortsOf(leader).Http);
        Assert.Contains("walrus_autopilot_changes_total{action=\"remove_dead_voter\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("walrus_autopilot_changes_total{action=\"promote\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_operator_removes_a_live_voter_under_load_no_acknowledged_append_is_lost_and_the_removed_agent_stops_voting()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        var victim = Enumerable.Range(1, 3).First(id => id != leader);
        var survivors = Enumerable.Range(1, 3).Where(id => id != victim).ToArray();
        await using var client = agents.NewClient(agents.ClientEndpoints(survivors), maxRetries: 30);
        using var load = new AppendLoad(client, workers: 8);
        await load.WaitForAcknowledgedAsync(500);
        load.ResetGap();
        var removed = await AgentProcesses.RunWalrusctlAsync(null, "member", "remove", victim.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--endpoints", string.Join(',', agents.ClientEndpoints(survivors)), "--ca", Path.Combine(agents.Certs, "ca.pem"));
        Assert.True(removed.ExitCode == 0, removed.Output + removed.Error);
        output.WriteLine(removed.Output.Trim());
        await load.WaitForAcknowledgedAsync(load.Acknowledged.Count + 500);
        var (stall, acknowledged) = await load.StopAsync();
        output.WriteLine($"{acknowledged.Count} appends acknowledged; longest gap between acknowledgements {stall.TotalMilliseconds:F0} ms");

        await AgentProcesses.EventuallyAsync(async () => await agents.StatusAsync(victim) is { } s && s.GetProperty("role").GetString() == "removed" ? new Box(s) : null,
            TimeSpan.FromSeconds(30), $"agent {victim} told it was removed");
        var status = (await agents.StatusAsync(leader))!.Value;
        Assert.DoesNotContain((ulong)victim, Ids(status, "voters"));
        Assert.DoesNotContain((ulong)victim, Ids(status, "learners"));
        await AssertAllCommittedAsync(client, acknowledged);
        var metrics = await AgentProcesses.MetricsAsync(agents.PortsOf(victim).Http);
        Assert.Contains("walrus_raft_removed 1", metrics, StringComparison.Ordinal);
        var term = status.GetProperty("term").GetUInt64();
        await Task.Delay(TimeSpan.FromSeconds(3)); // a removed agent that still campaigned would raise the term by now
        Assert.Equal(term, (await agents.StatusAsync(leader))!.Value.GetProperty("term").GetUInt64());
    }

    [Fact]
    public async Task Recover_force_new_cluster_on_the_last_of_three_agents_brings_back_a_writable_cluster_with_every_committed_entry()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        var acknowledged = new Dictionary<string, ulong>();
        await using (var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3]), maxRetries: 30))
        {
            for (var i = 0; i < 300; i++)
            {
                var text = $"before-loss-{i}";
                acknowledged[text] = (await client.AppendAsync(Encoding.UTF8.GetBytes(text))).Index;
            }
        }

        // Two agents are lost for good; the survivor alone has no quorum.
        var survivor = Enumerable.Range(1, 3).First(id => id != leader);
        foreach (var id in Enumerable.Range(1, 3).Where(id => id != survivor))
        {
            agents.Kill(id);
        }

        await agents.StopAsync(survivor);
        var dir = agents.DataDirOf(survivor);
        var nodeId = survivor.ToString(System.Globalization.CultureInfo.InvariantCulture);
        // The operator runs it with the agent's own configuration (here: the flags the fixture starts agents with).
        string[] config = ["--node-id", nodeId, "--data-dir", dir, "--ca", Path.Combine(agents.Certs, "ca.pem"),
            "--cert", Path.Combine(agents.Certs, $"node-{nodeId}.pem"), "--key", Path.Combine(agents.Certs, $"node-{nodeId}.key")];
        var refused = await AgentProcesses.RunAgentCommandAsync(["recover", .. config]);
        Assert.Equal(2, refused.ExitCode); // never without the explicit flag
        Assert.Contains("--force-new-cluster", refused.Error, StringComparison.Ordinal);
        var recovered = await AgentProcesses.RunAgentCommandAsync(["recover", "--force-new-cluster", .. config]);
        Assert.True(recovered.ExitCode == 0, recovered.Output + recovered.Error);
        output.WriteLine(recovered.Output.Trim());

        var started = Stopwatch.GetTimestamp();
        agents.Start(survivor, ["--join", agents.JoinList(3)]);
        await using (var client = agents.NewClient(agents.ClientEndpoints([survivor]), maxRetries: 30))
        {
            var first = await client.AppendAsync(Encoding.UTF8.GetBytes("after-recovery"));
            output.WriteLine($"writable {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s after the start (index {first.Index})");
            await AssertAllCommittedAsync(client, acknowledged);

            // The lost hosts come back wiped: they rejoin as learners and autopilot promotes them to the 3 voters.
            foreach (var id in Enumerable.Range(1, 3).Where(id => id != survivor))
            {
                Directory.Delete(agents.DataDirOf(id), recursive: true);
                agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
            }

            var status = await AgentProcesses.EventuallyAsync(async () => await agents.StatusAsync(survivor) is { } s && Ids(s, "voters").Count == 3 ? new Box(s) : null,
                TimeSpan.FromSeconds(60), "the wiped agents rejoin and are promoted");
            output.WriteLine($"voters after the rejoin: [{string.Join(',', Ids(status.Element, "voters"))}]");
            Assert.True((await client.AppendAsync(Encoding.UTF8.GetBytes("after-rejoin"))).Index > first.Index);
        }
    }

    private sealed record Box(JsonElement Element);

    private static List<ulong> Ids(JsonElement status, string property) => [.. status.GetProperty(property).EnumerateArray().Select(v => v.GetUInt64())];

    private static async Task AssertAllCommittedAsync(WalrusClient client, IReadOnlyDictionary<string, ulong> acknowledged)
    {
        var found = new Dictionary<string, ulong>();
        foreach (var e in await AgentProcesses.ReadAllAsync(client, 1, acknowledged.Values.Max()))
        {
            found.TryAdd(Encoding.UTF8.GetString(e.Payload.Span), e.Index);
        }

        foreach (var (text, index) in acknowledged)
        {
            Assert.True(found.TryGetValue(text, out var at), $"acknowledged append '{text}' is missing");
            Assert.Equal(index, at);
        }
    }

    [Fact]
    public async Task Keyring_rotation_across_three_running_agents_fails_no_append_and_forged_or_stale_gossip_adds_no_member()
    {
        byte[] k1 = [.. Enumerable.Range(1, 32).Select(i => (byte)i)], k2 = [.. Enumerable.Range(101, 32).Select(i => (byte)i)];
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3", $"--Gossip:Keys:0={Convert.ToBase64String(k1)}"]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        await using var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3]), maxRetries: 30);
        using var load = new AppendLoad(client, workers: 4);
        await load.WaitForAcknowledgedAsync(200);
        load.ResetGap();
        string[] connect = ["--endpoints", string.Join(',', agents.ClientEndpoints([1, 2, 3])), "--ca", Path.Combine(agents.Certs, "ca.pem")];
        foreach (var (verb, key) in new[] { ("install", k2), ("use", k2), ("remove", k1) })
        {
            var step = await AgentProcesses.RunWalrusctlAsync(null, ["keyring", verb, Convert.ToBase64String(key), .. connect]);
            Assert.True(step.ExitCode == 0, step.Output + step.Error);
            output.WriteLine($"keyring {verb}: {step.Output.Trim()}");
            await load.WaitForAcknowledgedAsync(load.Acknowledged.Count + 100);
        }

        // Every agent still sees the others alive under the new key, and appends never failed (StopAsync rethrows a failure).
        await AgentProcesses.EventuallyAsync(async () => await agents.StatusAsync(leader) is { } s &&
            s.GetProperty("members").EnumerateArray().Count(m => m.GetProperty("state").GetString() == "alive") == 3 ? new Box(s) : null,
            TimeSpan.FromSeconds(20), "three live members after the rotation");

        // Forged gossip at agent 1's UDP port: a real datagram of two strangers in plaintext, under a key nobody holds,
        // and under the key removed by the rotation. None adds a member; the counters show the drops.
        var datagram = StrangerDatagram();
        using var wrongKey = new WalrusGossip.Membership.GossipKeyring([new byte[32]], new Random(1));
        using var oldKey = new WalrusGossip.Membership.GossipKeyring([k1], new Random(2));
        using var udp = new System.Net.Sockets.UdpClient();
        var target = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, agents.PortsOf(1).Gossip);
        foreach (var forged in new[] { datagram, wrongKey.Seal(datagram), oldKey.Seal(datagram) })
        {
            await udp.SendAsync(forged, target);
        }

        var (gap, acknowledged) = await load.StopAsync();
        output.WriteLine($"{acknowledged.Count} appends acknowledged during the rotation, none failed; longest gap {gap.TotalMilliseconds:F0} ms");
        var metrics = await AgentProcesses.EventuallyAsync(async () =>
        {
            var text = await AgentProcesses.MetricsAsync(agents.PortsOf(1).Http);
            return text.Contains("walrus_gossip_dropped_total{reason=\"plaintext\"} 1", StringComparison.Ordinal) ? text : null;
        }, TimeSpan.FromSeconds(10), "agent 1 to count the plaintext datagram");
        var unauthenticated = metrics.Split('\n').Single(l => l.StartsWith("walrus_gossip_dropped_total{reason=\"unauthenticated\"}", StringComparison.Ordinal));
        output.WriteLine(unauthenticated);
        Assert.True(long.Parse(unauthenticated.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture) >= 2, unauthenticated);
        Assert.Contains("walrus_gossip_keys 1", metrics, StringComparison.Ordinal);
        var status = (await agents.StatusAsync(1))!.Value;
        Assert.DoesNotContain(status.GetProperty("members").EnumerateArray(), m => m.GetProperty("name").GetString() is "98" or "99");
        Assert.Equal(3, Ids((await agents.StatusAsync(leader))!.Value, "voters").Count + Ids((await agents.StatusAsync(leader))!.Value, "learners").Count);

        // The same datagram sealed with the current key (a host that learned the key but holds no node certificate):
        // gossip admits the strangers to the membership view, but the leader never adds them to Raft, and counts it.
        using var currentKey = new WalrusGossip.Membership.GossipKeyring([k2], new Random(3));
        var sealedDatagram = currentKey.Seal(datagram);
        for (var copy = 0; copy < 3; copy++)
        {
            await udp.SendAsync(sealedDatagram, new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, agents.PortsOf(leader).Gossip)); // UDP: a copy may be lost, a duplicate is harmless
        }
        var leaderMetrics = await AgentProcesses.EventuallyAsync(async () =>
        {
            var text = await AgentProcesses.MetricsAsync(agents.PortsOf(leader).Http);
            return text.Split('\n').Any(l => l.StartsWith("walrus_autopilot_uncertified_total ", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal)) ? text : null;
        }, TimeSpan.FromSeconds(20), "the leader to refuse the uncertified gossip member");
        output.WriteLine(leaderMetrics.Split('\n').Single(l => l.StartsWith("walrus_autopilot_uncertified_total ", StringComparison.Ordinal)));
        var after = (await agents.StatusAsync(leader))!.Value;
        Assert.Equal(3, Ids(after, "voters").Count + Ids(after, "learners").Count);
    }

    /// <summary>A genuine plaintext gossip datagram: two in-process strangers (nodes 98 and 99) join each other and probe.</summary>
    private static byte[] StrangerDatagram()
    {
        var now = TimeSpan.Zero;
        var a = new WalrusGossip.Membership.MembershipNode("99", "127.0.0.1:1", new WalrusGossip.Membership.MembershipOptions(), new Random(1), now);
        var b = new WalrusGossip.Membership.MembershipNode("98", "127.0.0.1:2", new WalrusGossip.Membership.MembershipOptions(), new Random(2), now);
        a.Join(now, ["127.0.0.1:2"]);
        var outbound = new List<WalrusGossip.Membership.OutboundMessage>();
        for (var step = 0; step < 100; step++, now += TimeSpan.FromMilliseconds(100))
        {
            foreach (var (from, to, fromAddress) in new[] { (a, b, "127.0.0.1:1"), (b, a, "127.0.0.1:2") })
            {
                from.Tick(now);
                outbound.Clear();
                from.DrainMessages(outbound);
                foreach (var m in outbound)
                {
                    if (m.Kind == WalrusGossip.Membership.OutboundKind.Stream)
                    {
                        to.ReceiveStream(now, fromAddress, m.Payload);
                    }
                    else if (from == a)
                    {
                        return m.Payload;
                    }
                    else
                    {
                        to.ReceiveDatagram(now, fromAddress, m.Payload);
                    }
                }
            }
        }

        throw new InvalidOperationException("the strangers sent no datagram");
    }

    /// <summary>Closed-loop appends from a few workers, recording each acknowledgement and the longest gap between two.</summary>
    private sealed class AppendLoad : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly Task[] _workers;
        private readonly object _gate = new();
        private long _lastAck = Stopwatch.GetTimestamp();
        private TimeSpan _longestGap;

        public AppendLoad(WalrusClient client, int workers)
        {
            _workers = [.. Enumerable.Range(0, workers).Select(w => Task.Run(async () =>
            {
                for (var n = 0; !_stop.IsCancellationRequested; n++)
                {
                    var text = $"worker-{w}-append-{n}";
                    var result = await client.AppendAsync(Encoding.UTF8.GetBytes(text), "load");
                    Acknowledged[text] = result.Index;
                    lock (_gate)
                    {
                        var now = Stopwatch.GetTimestamp();
                        var gap = Stopwatch.GetElapsedTime(_lastAck, now);
                        if (gap > _longestGap)
                        {
                            _longestGap = gap;
                            LongestGapEnded = now;
                        }

                        _lastAck = now;
                    }
                }
            }))];
        }

        public ConcurrentDictionary<string, ulong> Acknowledged { get; } = new();

        /// <summary>Starts measuring the longest gap from now (the warm-up before does not count).</summary>
        public void ResetGap()
        {
            lock (_gate)
            {
                _lastAck = Stopwatch.GetTimestamp();
                _longestGap = TimeSpan.Zero;
            }
        }

        /// <summary>Stopwatch timestamp of the acknowledgement that ended the longest gap.</summary>
        public long LongestGapEnded { get; private set; }

        public Task WaitForAcknowledgedAsync(int count) =>
            AgentProcesses.EventuallyAsync(() => Task.FromResult(Acknowledged.Count >= count ? this : null), TimeSpan.FromSeconds(60), $"{count} appends acknowledged");

        public async Task<(TimeSpan LongestGap, IReadOnlyDictionary<string, ulong> Acknowledged)> StopAsync()
        {
            await _stop.CancelAsync();
            await Task.WhenAll(_workers); // an append failing after all retries fails the test here
            lock (_gate)
            {
                return (_longestGap, new Dictionary<string, ulong>(Acknowledged));
            }
        }

        public void Dispose() => _stop.Dispose();
    }
}
