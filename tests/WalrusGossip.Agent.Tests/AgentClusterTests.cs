using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using WalrusGossip.Client;
using WalrusGossip.Node;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Agent.Tests;

/// <summary>End-to-end: real walrus-agent processes on loopback over TCP + TLS, driven through the client SDK.</summary>
[Collection(AgentCollection.Name)]
public sealed class AgentClusterTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Three_agents_survive_a_leader_SIGKILL_mid_stream_and_lose_no_acknowledged_append()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        await using var client = NewClient(agents, agents.ClientEndpoints([1, 2, 3]));
        const int Clients = 16, Total = 10_000;
        var acknowledged = new ConcurrentDictionary<string, ulong>();
        var issued = 0;
        var killAt = Total / 3;
        var killed = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        long firstAfterKill = 0;
        var workers = Enumerable.Range(0, Clients).Select(c => Task.Run(async () =>
        {
            while (true)
            {
                var n = Interlocked.Increment(ref issued);
                if (n > Total)
                {
                    return;
                }

                var text = $"client-{c}-append-{n}";
                var result = await client.AppendAsync(Encoding.UTF8.GetBytes(text), "load");
                acknowledged[text] = result.Index;
                if (killed.Task.IsCompleted)
                {
                    Interlocked.CompareExchange(ref firstAfterKill, Stopwatch.GetTimestamp(), 0);
                }

                if (acknowledged.Count == killAt)
                {
                    agents.Kill(leader);
                    killed.TrySetResult(Stopwatch.GetTimestamp());
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(3));
        var failover = Stopwatch.GetElapsedTime(await killed.Task, firstAfterKill);
        output.WriteLine($"leader {leader} killed after {killAt} acks; first append acknowledged after the kill: {failover.TotalMilliseconds:F0} ms");
        Assert.True(failover < TimeSpan.FromSeconds(2), $"a new leader took {failover} to serve an append");
        Assert.Equal(Total, acknowledged.Count);

        agents.Start(leader, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        var target = acknowledged.Values.Max();
        await AgentProcesses.EventuallyAsync<object>(async () =>
        {
            foreach (var id in new[] { 1, 2, 3 })
            {
                if (await agents.StatusAsync(id) is not { } s || s.GetProperty("appliedIndex").GetUInt64() < target)
                {
                    return null;
                }
            }

            return new object();
        }, TimeSpan.FromSeconds(60), "the restarted agent catching up");

        foreach (var id in new[] { 1, 2, 3 })
        {
            await agents.StopAsync(id);
        }

        var logs = new[] { 1, 2, 3 }.Select(id => ReadLog(agents.DataDirOf(id))).ToArray();
        var committed = logs.Min(l => l.Count);
        Assert.True(committed >= (int)target);
        for (var i = 0; i < committed; i++)
        {
            Assert.True(logs[0][i].Equals(logs[1][i]) && logs[0][i].Equals(logs[2][i]), $"logs differ at index {i + 1}");
        }

        var firstIndexOf = new Dictionary<string, ulong>();
        foreach (var entry in logs[0])
        {
            if (entry.Data is { } data && !firstIndexOf.ContainsKey(data))
            {
                firstIndexOf[data] = entry.Index;
            }
        }

        foreach (var (text, index) in acknowledged)
        {
            Assert.True(firstIndexOf.TryGetValue(text, out var at), $"acknowledged append '{text}' is missing");
            Assert.Equal(index, at);
        }
    }

    [Fact]
    public async Task A_fourth_agent_joins_as_a_learner_is_promoted_and_serves_linearizable_reads()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(4);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        await using (var client = NewClient(agents, agents.ClientEndpoints([1, 2, 3])))
        {
            for (var i = 0; i < 20; i++)
            {
                await client.AppendAsync(Encoding.UTF8.GetBytes($"before-join-{i}"));
            }
        }

        agents.Start(4, ["--join", agents.JoinList(3)]);
        await AgentProcesses.EventuallyAsync<object>(async () =>
            await agents.StatusAsync(4) is { } s && s.GetProperty("voters").EnumerateArray().Any(v => v.GetUInt64() == 4) ? new object() : null,
            TimeSpan.FromSeconds(60), "agent 4 promoted to voter");
        await using var fourth = NewClient(agents, agents.ClientEndpoints([4]));
        var range = await fourth.ReadRangeAsync(1, 100, 1 << 20, Consistency.Linearizable);
        Assert.Contains(range.Entries, e => Encoding.UTF8.GetString(e.Payload.Span) == "before-join-19");
    }

    private static WalrusClient NewClient(AgentProcesses agents, string[] endpoints)
    {
        var options = new WalrusClientOptions { CaFile = Path.Combine(agents.Certs, "ca.pem"), RequestTimeout = TimeSpan.FromSeconds(5), MaxRetries = 20 };
        foreach (var e in endpoints)
        {
            options.Endpoints.Add(e);
        }

        return new WalrusClient(options);
    }

    private static List<StoredEntry> ReadLog(string dataDir)
    {
        using var storage = NodeStorage.Open(dataDir, new StorageOptions { IoEngine = IoEngine.Psync });
        var entries = new List<Raft.LogEntry>();
        var result = new List<StoredEntry>();
        var next = storage.Log.FirstIndex;
        while (next <= storage.Log.LastIndex)
        {
            entries.Clear();
            storage.Log.ReadRange(next, 1000, 8 << 20, entries);
            foreach (var e in entries)
            {
                string? data = null;
                if (e.Type == Raft.EntryType.Normal && AppendCommand.TryDecode(e.Payload.Span, out _, out _, out var offset))
                {
                    data = Encoding.UTF8.GetString(e.Payload.Span[offset..]);
                }

                result.Add(new StoredEntry(e.Index, e.Term, e.Type, data, Convert.ToHexString(e.Payload.Span)));
                next = e.Index + 1;
            }
        }

        return result;
    }

    private sealed record StoredEntry(ulong Index, ulong Term, Raft.EntryType Type, string? Data, string Raw);
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AgentCollection
{
    public const string Name = "agent processes";
}
