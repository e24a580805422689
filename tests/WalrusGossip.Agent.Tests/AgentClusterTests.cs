using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using WalrusGossip.Client;
using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
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
        await using var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3]));
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
    public async Task A_fourth_agent_joins_as_a_learner_beyond_the_three_voters_serves_linearizable_reads_and_is_promoted_by_walrusctl()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(4);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        await using (var client = agents.NewClient(agents.ClientEndpoints([1, 2, 3])))
        {
            for (var i = 0; i < 20; i++)
            {
                await client.AppendAsync(Encoding.UTF8.GetBytes($"before-join-{i}"));
            }
        }

        agents.Start(4, ["--join", agents.JoinList(3)]);
        await AgentProcesses.EventuallyAsync<object>(async () =>
            await agents.StatusAsync(4) is { } s && s.GetProperty("learners").EnumerateArray().Any(v => v.GetUInt64() == 4) ? new object() : null,
            TimeSpan.FromSeconds(60), "agent 4 added as a learner (Cluster:Voters is 3)");
        await using var fourth = agents.NewClient(agents.ClientEndpoints([4]));
        var range = await fourth.ReadRangeAsync(1, 100, 1 << 20, Consistency.Linearizable);
        Assert.Contains(range.Entries, e => Encoding.UTF8.GetString(e.Payload.Span) == "before-join-19");

        var endpoints = string.Join(',', agents.ClientEndpoints([1, 2, 3, 4]));
        var promote = await AgentProcesses.RunWalrusctlAsync(null, "member", "promote", "4", "--endpoints", endpoints, "--ca", Path.Combine(agents.Certs, "ca.pem"));
        Assert.True(promote.ExitCode == 0, promote.Output + promote.Error);
        Assert.Contains("voters [1,2,3,4]", promote.Output, StringComparison.Ordinal);
        var list = await AgentProcesses.RunWalrusctlAsync(null, "member", "list", "--json", "--endpoints", endpoints, "--ca", Path.Combine(agents.Certs, "ca.pem"));
        Assert.True(list.ExitCode == 0, list.Output + list.Error);
        using var rows = System.Text.Json.JsonDocument.Parse(list.Output);
        Assert.Equal(4, rows.RootElement.GetArrayLength());
        Assert.All(rows.RootElement.EnumerateArray(), r => Assert.NotEqual("learner", r.GetProperty("suffrage").GetString()));
    }

    [Fact]
    public async Task A_backup_saved_under_load_restores_into_a_new_cluster_that_serves_byte_identical_entries()
    {
        string[] small = ["--Storage:MaxSegmentBytes=65536", "--Storage:MaxEntryBytes=16384", "--Storage:CheckpointEveryEntries=500", "--Storage:Retention:MaxEntries=1500"];
        await using var source = new AgentProcesses();
        source.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            source.Start(id, ["--join", source.JoinList(3), "--bootstrap-expect", "3", .. small]);
        }

        await source.LeaderAsync(TimeSpan.FromSeconds(60));
        await using var client = source.NewClient(source.ClientEndpoints([1, 2, 3]));
        var payload = new byte[300];
        for (var i = 0; i < 3000; i++)
        {
            BitConverter.TryWriteBytes(payload, i);
            await client.AppendAsync(payload, i % 2 == 0 ? "even" : null);
        }

        // Appends go on while the backup is taken.
        using var stopLoad = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            for (var i = 3000; !stopLoad.IsCancellationRequested; i++)
            {
                await client.AppendAsync(BitConverter.GetBytes(i));
            }
        });
        var file = Path.Combine(source.Root, "backup.wbk");
        var ca = Path.Combine(source.Certs, "ca.pem");
        var saved = await AgentProcesses.RunWalrusctlAsync(null, "snapshot", "save", file, "--json", "--endpoints", string.Join(',', source.ClientEndpoints([1, 2, 3])), "--ca", ca);
        await stopLoad.CancelAsync();
        await load;
        Assert.True(saved.ExitCode == 0, saved.Error);
        var backup = JsonDocument.Parse(saved.Output).RootElement;
        var (first, last) = (backup.GetProperty("firstIndex").GetUInt64(), backup.GetProperty("lastIndex").GetUInt64());
        output.WriteLine($"backup: {saved.Output}");
        Assert.True(first > 1 && backup.GetProperty("checkpointIndex").GetUInt64() >= first - 1, "retention and a checkpoint were in force");
        Assert.True(last >= 3000);
        var status = await AgentProcesses.RunWalrusctlAsync(null, "snapshot", "status", file);
        Assert.True(status.ExitCode == 0, status.Error);

        await using var restored = new AgentProcesses();
        restored.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            var seeded = await AgentProcesses.RunWalrusctlAsync(null, "snapshot", "restore", file, "--data-dir", restored.DataDirOf(id), "--voters", "1,2,3", "--segment-bytes", "65536");
            Assert.True(seeded.ExitCode == 0, seeded.Error);
            restored.Start(id, ["--join", restored.JoinList(3), .. small]);
        }

        await restored.LeaderAsync(TimeSpan.FromSeconds(60));
        await using var reader = restored.NewClient(restored.ClientEndpoints([1, 2, 3]));
        // The restored cluster serves the whole backed-up range: every append once, in order (payloads count up).
        var copy = await AgentProcesses.ReadAllAsync(reader, first, last);
        Assert.True(copy.Count > 1000, $"{copy.Count} entries restored");
        for (var i = 1; i < copy.Count; i++)
        {
            Assert.Equal(BitConverter.ToInt32(copy[i - 1].Payload.Span) + 1, BitConverter.ToInt32(copy[i].Payload.Span));
        }

        // Byte for byte what the source serves, over the part of the range the source still retains.
        var sourceFirst = (await client.GetClusterStatusAsync()).Where(n => n.Status is not null).Max(n => n.Status!.FirstIndex);
        var original = await AgentProcesses.ReadAllAsync(client, Math.Max(first, sourceFirst), last);
        Assert.True(original.Count > 100, $"only {original.Count} entries of the backup are still in the source (it retains from {sourceFirst})");
        var restoredByIndex = copy.ToDictionary(e => e.Index);
        foreach (var e in original)
        {
            var r = restoredByIndex[e.Index];
            Assert.Equal((e.Term, e.Stream), (r.Term, r.Stream));
            Assert.True(e.Payload.Span.SequenceEqual(r.Payload.Span), $"entry {e.Index} differs");
        }

        var next = await reader.AppendAsync("after-restore"u8.ToArray());
        Assert.True(next.Index > last);
    }

    [Fact]
    public async Task A_wiped_follower_catches_up_through_a_chunked_snapshot_larger_than_the_frame_limit_while_appends_continue()
    {
        // A 2 MiB frame limit (so 1 MiB chunks), small segments and frequent checkpoints with retention.
        string[] args = ["--Transport:MaxFrameBytes=2097152", "--Storage:MaxSegmentBytes=1048576", "--Storage:MaxEntryBytes=65536",
            "--Storage:CheckpointEveryEntries=20000", "--Storage:Retention:MaxEntries=20000"];
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3", .. args]);
        }

        var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        var wiped = new[] { 1, 2, 3 }.First(id => id != leader);

        // 400 sessions that never acknowledge their answers, so the session table each checkpoint carries holds
        // 1,024 remembered sequences per session: about 6 MiB, three times the frame limit.
        await using (var raw = await agents.ConnectClientAsync(leader))
        {
            for (ulong session = 1; session <= 400; session++)
            {
                var batch = new AppendBatchRequest { RequestId = session, ClientId = 0xBEEF0000 + session, Sequence = 1 };
                for (var i = 0; i < 1024; i++)
                {
                    batch.Items.Add(new AppendItem { Payload = ByteString.CopyFrom(BitConverter.GetBytes(i)) });
                }

                await raw.SendAsync(MessageType.AppendBatchRequest, batch, TestContext.Current.CancellationToken);
                var reply = await raw.ReceiveAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
                Assert.Equal(ResponseStatus.Ok, ((Protocol.Messages.AppendResponse)reply!.Value.Message).Status);
            }
        }

        agents.Kill(wiped);
        foreach (var entry in Directory.EnumerateFileSystemEntries(agents.DataDirOf(wiped)))
        {
            if (Directory.Exists(entry))
            {
                Directory.Delete(entry, recursive: true);
            }
            else
            {
                File.Delete(entry);
            }
        }

        await using var client = agents.NewClient(agents.ClientEndpoints([leader]));
        using var stopLoad = new CancellationTokenSource();
        var appended = 0;
        var load = Task.Run(async () =>
        {
            while (!stopLoad.IsCancellationRequested)
            {
                await client.AppendAsync(BitConverter.GetBytes(Interlocked.Increment(ref appended)));
            }
        });
        agents.Start(wiped, ["--join", agents.JoinList(3), "--bootstrap-expect", "3", .. args]);
        await AgentProcesses.EventuallyAsync<object>(async () =>
            await agents.StatusAsync(wiped) is { } s && s.GetProperty("appliedIndex").GetUInt64() > 400 * 1024 ? new object() : null,
            TimeSpan.FromSeconds(90), "the wiped follower catching up");
        var during = Volatile.Read(ref appended);
        Assert.True(during > 0, "appends went on while the follower caught up");

        // Then it follows normal replication: 2,000 more appends reach it as entries, not as a snapshot.
        await AgentProcesses.EventuallyAsync<object>(() => Task.FromResult<object?>(Volatile.Read(ref appended) >= during + 2000 ? new object() : null), TimeSpan.FromSeconds(60), "2,000 more appends");
        await stopLoad.CancelAsync();
        await load;

        var sent = File.ReadLines(Path.Combine(agents.Root, $"node-{leader}.out"))
            .Select(l => System.Text.RegularExpressions.Regex.Match(l, @"sending snapshot \d+ \(term \d+\) to node (\d+): (\d+) bytes in chunks"))
            .Where(m => m.Success && m.Groups[1].Value == wiped.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Select(m => long.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture))
            .ToList();
        output.WriteLine($"snapshots sent to the wiped node {wiped}: {string.Join(", ", sent)} bytes; appends during the catch-up: {during}");
        Assert.Contains(sent, bytes => bytes > 2 * 1024 * 1024);

        var target = (await agents.StatusAsync(leader))!.Value.GetProperty("commitIndex").GetUInt64();
        await AgentProcesses.EventuallyAsync<object>(async () =>
        {
            foreach (var id in new[] { 1, 2, 3 })
            {
                if (await agents.StatusAsync(id) is not { } st || st.GetProperty("appliedIndex").GetUInt64() < target)
                {
                    return null;
                }
            }

            return new object();
        }, TimeSpan.FromSeconds(60), "every replica applying the last append");
        foreach (var id in new[] { 1, 2, 3 })
        {
            await agents.StopAsync(id);
        }

        var logs = new[] { 1, 2, 3 }.Select(id => ReadLog(agents.DataDirOf(id)).Where(e => e.Index <= target).ToDictionary(e => e.Index)).ToArray();
        var from = logs.Max(l => l.Keys.Min());
        Assert.True(target - from > 1000, $"common range {from}..{target}");
        for (var index = from; index <= target; index++)
        {
            Assert.True(logs[0][index].Equals(logs[1][index]) && logs[0][index].Equals(logs[2][index]), $"replicas differ at index {index}");
        }
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
