using System.Text;
using WalrusGossip.Client;

namespace WalrusGossip.Agent.Tests;

/// <summary>Streams on real agents (issue 19): per-stream sequences, reads and tails by sequence, info that survives a whole-cluster restart.</summary>
public sealed class StreamTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Streams_number_their_entries_read_and_tail_by_sequence_and_show_the_same_info_and_consumer_positions_on_every_agent_after_a_whole_cluster_restart()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        // Checkpoints every 500 entries, so the restart restores the stream index from a checkpoint and replays the rest.
        string[] extra(int id) => ["--join", agents.JoinList(3), "--bootstrap-expect", "3", "--Storage:CheckpointEveryEntries=500"];
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, extra(id));
        }

        await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        var all = agents.ClientEndpoints([1, 2, 3]);
        var expected = new Dictionary<string, ulong>();
        await using (var client = agents.NewClient(all))
        {
            for (var batch = 0; batch < 30; batch++)
            {
                var entries = Enumerable.Range(0, 100).Select(i => ((string?)$"s{(batch * 100 + i) % 3}", (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes($"e{batch * 100 + i}"))).ToList();
                var results = await client.AppendBatchAsync(entries, TestContext.Current.CancellationToken);
                for (var i = 0; i < entries.Count; i++)
                {
                    var stream = entries[i].Item1!;
                    expected[stream] = expected.GetValueOrDefault(stream) + 1;
                    Assert.Equal(expected[stream], results[i].StreamSequence); // from 1, no gaps, per stream
                }
            }

            var single = await client.AppendAsync(Encoding.UTF8.GetBytes("one more"), "s1", TestContext.Current.CancellationToken);
            Assert.Equal(1001ul, single.StreamSequence);
            Assert.Equal(0ul, (await client.AppendAsync(Encoding.UTF8.GetBytes("no stream"), cancellationToken: TestContext.Current.CancellationToken)).StreamSequence);

            var middle = await client.ReadStreamAsync("s1", 500, 100, cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal(Enumerable.Range(500, 100).Select(s => (ulong)s), middle.Select(e => e.StreamSequence));
            Assert.All(middle, e => Assert.Equal("s1", e.Stream));
            Assert.Equal($"e{(499 * 3) + 1}", Encoding.UTF8.GetString(middle[0].Payload.Span)); // s1 holds entries 1, 4, 7, ...
            Assert.True(middle.Zip(middle.Skip(1)).All(p => p.First.Index < p.Second.Index));
            Assert.Empty(await client.ReadStreamAsync("s1", 5000, cancellationToken: TestContext.Current.CancellationToken));

            var info = await client.GetStreamInfoAsync("s1", cancellationToken: TestContext.Current.CancellationToken);
            Assert.Equal((1ul, 1001ul, 1001ul), (info.FirstSequence, info.LastSequence, info.Entries));
            await Assert.ThrowsAsync<WalrusNotFoundException>(() => client.GetStreamInfoAsync("never", cancellationToken: TestContext.Current.CancellationToken));
            Assert.Equal(["s0", "s1", "s2"], (await client.ListStreamsAsync(cancellationToken: TestContext.Current.CancellationToken)).Select(s => s.Name));

            // A live tail of s2 from its next sequence sees exactly the new entries of s2, not those of the other streams.
            using var tailStop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
            tailStop.CancelAfter(TimeSpan.FromSeconds(60));
            var tail = Task.Run(async () =>
            {
                var seen = new List<LogEntry>();
                await foreach (var e in client.TailStreamAsync("s2", 1001, tailStop.Token))
                {
                    seen.Add(e);
                    if (seen.Count == 5)
                    {
                        break;
                    }
                }

                return seen;
            }, TestContext.Current.CancellationToken);
            for (var i = 0; i < 5; i++)
            {
                await client.AppendAsync(Encoding.UTF8.GetBytes($"other {i}"), "s0", TestContext.Current.CancellationToken);
                await client.AppendAsync(Encoding.UTF8.GetBytes($"tail {i}"), "s2", TestContext.Current.CancellationToken);
            }

            var tailed = await tail;
            Assert.Equal([1001ul, 1002, 1003, 1004, 1005], tailed.Select(e => e.StreamSequence));
            Assert.Equal(Enumerable.Range(0, 5).Select(i => $"tail {i}"), tailed.Select(e => Encoding.UTF8.GetString(e.Payload.Span)));
        }

        // A durable consumer of s1 that processed (and acknowledged) its first 700 entries.
        IReadOnlyList<StreamInfo> before;
        await using (var client = agents.NewClient(all))
        {
            before = await client.ListStreamsAsync(cancellationToken: TestContext.Current.CancellationToken);
            await client.CreateConsumerAsync("s1", "audit", TimeSpan.FromSeconds(30), cancellationToken: TestContext.Current.CancellationToken);
            var taken = 0;
            await foreach (var consumed in client.ConsumeAsync("s1", "audit", batch: 100, TestContext.Current.CancellationToken))
            {
                Assert.Equal((ulong)++taken, consumed.Entry.StreamSequence);
                if (taken == 700)
                {
                    Assert.Equal(700ul, await client.AckAsync("s1", "audit", 700, TestContext.Current.CancellationToken));
                    break;
                }
            }

            await AgentProcesses.EventuallyAsync(async () => (await client.GetConsumerInfoAsync("s1", "audit", TestContext.Current.CancellationToken)).AckFloor == 700 ? this : null,
                TimeSpan.FromSeconds(10), "the consumer's floor to replicate");
            var consumers = await AgentProcesses.RunWalrusctlAsync(null, ["consumer", "list", "--json", "--endpoints", string.Join(',', all), "--ca", Path.Combine(agents.Certs, "ca.pem")]);
            Assert.True(consumers.ExitCode == 0, consumers.Output + consumers.Error);
            Assert.Contains("\"ackFloor\": 700", consumers.Output, StringComparison.Ordinal);
        }

        output.WriteLine(string.Join("; ", before));

        // walrusctl shows the same: stream list --json, stream info, stream read by sequence.
        string[] connect = ["--endpoints", string.Join(',', all), "--ca", Path.Combine(agents.Certs, "ca.pem")];
        var list = await AgentProcesses.RunWalrusctlAsync(null, ["stream", "list", "--json", .. connect]);
        Assert.True(list.ExitCode == 0, list.Output + list.Error);
        using (var json = System.Text.Json.JsonDocument.Parse(list.Output))
        {
            Assert.Equal(before.Select(b => (b.Name, b.LastSequence)), json.RootElement.EnumerateArray().Select(e => (e.GetProperty("name").GetString()!, e.GetProperty("lastSequence").GetUInt64())));
        }

        var read = await AgentProcesses.RunWalrusctlAsync(null, ["stream", "read", "s2", "--from", "1003", "--count", "2", "--json", .. connect]);
        Assert.True(read.ExitCode == 0, read.Output + read.Error);
        using (var json = System.Text.Json.JsonDocument.Parse(read.Output))
        {
            Assert.Equal([1003ul, 1004], json.RootElement.EnumerateArray().Select(e => e.GetProperty("streamSequence").GetUInt64()));
            Assert.Equal(["tail 2", "tail 3"], json.RootElement.EnumerateArray().Select(e => e.GetProperty("payloadText").GetString()));
        }

        var missing = await AgentProcesses.RunWalrusctlAsync(null, ["stream", "info", "never", .. connect]);
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no entries", missing.Output + missing.Error, StringComparison.Ordinal);
        for (var id = 1; id <= 3; id++)
        {
            await agents.StopAsync(id);
        }

        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, extra(id));
        }

        await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        for (var id = 1; id <= 3; id++)
        {
            await using var one = agents.NewClient(agents.ClientEndpoints([id]));
            var after = await AgentProcesses.EventuallyAsync(async () =>
            {
                var streams = await one.ListStreamsAsync(Consistency.Stale, TestContext.Current.CancellationToken);
                return streams.SequenceEqual(before) ? streams : null;
            }, TimeSpan.FromSeconds(30), $"agent {id} to show the streams it showed before the restart");
            Assert.Equal(before, after);
            var consumer = await AgentProcesses.EventuallyAsync(async () =>
            {
                var c = await one.GetConsumerInfoAsync("s1", "audit", TestContext.Current.CancellationToken);
                return c.AckFloor == 700 ? c : null;
            }, TimeSpan.FromSeconds(30), $"agent {id} to hold the consumer's position");
            Assert.Equal((1001ul, TimeSpan.FromSeconds(30)), (consumer.LastSequence, consumer.AckTimeout));
        }

        // The consumer resumes after its position on the new leader.
        await using (var client = agents.NewClient(all))
        {
            await foreach (var consumed in client.ConsumeAsync("s1", "audit", batch: 10, TestContext.Current.CancellationToken))
            {
                Assert.Equal(701ul, consumed.Entry.StreamSequence);
                break;
            }

            await Assert.ThrowsAsync<WalrusNotFoundException>(() => client.GetConsumerInfoAsync("s1", "nobody", TestContext.Current.CancellationToken));
            await Assert.ThrowsAsync<WalrusInvalidArgumentException>(() => client.CreateConsumerAsync("s1", "bad name!", cancellationToken: TestContext.Current.CancellationToken));
        }
    }
}
