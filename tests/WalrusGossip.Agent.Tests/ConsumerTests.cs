using System.Collections.Concurrent;
using System.Text;
using WalrusGossip.Client;

namespace WalrusGossip.Agent.Tests;

/// <summary>Durable consumers on real agents (issue 19).</summary>
public sealed class ConsumerTests(ITestOutputHelper output)
{
    private const int Entries = 100_000;

    [Fact]
    public async Task Two_instances_of_a_durable_consumer_get_every_one_of_100000_entries_in_order_while_the_leader_is_killed_twice()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        await agents.LeaderAsync(TimeSpan.FromSeconds(60));
        var all = agents.ClientEndpoints([1, 2, 3]);
        await using var producer = agents.NewClient(all, maxRetries: 60);
        await producer.CreateConsumerAsync("orders", "billing", TimeSpan.FromSeconds(2), cancellationToken: TestContext.Current.CancellationToken);

        // The producer writes 100,000 entries in batches, with the consumer running alongside.
        var produce = Task.Run(async () =>
        {
            for (var n = 0; n < Entries; n += 500)
            {
                var batch = Enumerable.Range(n, 500).Select(i => ((string?)"orders", (ReadOnlyMemory<byte>)Encoding.UTF8.GetBytes(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))).ToList();
                await producer.AppendBatchAsync(batch, TestContext.Current.CancellationToken);
            }
        }, TestContext.Current.CancellationToken);

        var seen = new ConcurrentDictionary<ulong, int>(); // stream sequence -> deliveries
        long redelivered = 0, orderBreaks = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(TimeSpan.FromMinutes(4));
        var instances = Enumerable.Range(0, 2).Select(_ => Task.Run(async () =>
        {
            await using var client = agents.NewClient(all, maxRetries: 60);
            ulong lastFirst = 0, highest = 0;
            // Acks are cumulative per instance: every 100 ms, acknowledge the highest sequence this instance has processed.
            var acker = Task.Run(async () =>
            {
                ulong acked = 0;
                while (!stop.IsCancellationRequested)
                {
                    var upTo = Interlocked.Read(ref highest);
                    if (upTo > acked)
                    {
                        await AckQuietlyAsync(client, upTo);
                        acked = upTo;
                    }

                    await Task.Delay(100, CancellationToken.None);
                }
            }, CancellationToken.None);
            try
            {
                await foreach (var consumed in client.ConsumeAsync("orders", "billing", batch: 500, stop.Token))
                {
                    var sequence = consumed.Entry.StreamSequence;
                    Assert.Equal(((long)sequence - 1).ToString(System.Globalization.CultureInfo.InvariantCulture), Encoding.UTF8.GetString(consumed.Entry.Payload.Span));
                    if (consumed.DeliveryCount > 1 || seen.ContainsKey(sequence))
                    {
                        Interlocked.Increment(ref redelivered);
                    }
                    else if (sequence <= lastFirst)
                    {
                        Interlocked.Increment(ref orderBreaks); // a first delivery below an earlier one of this instance: only after a leader change
                    }

                    lastFirst = Math.Max(lastFirst, sequence);
                    seen.AddOrUpdate(sequence, 1, (_, c) => c + 1);
                    if (sequence > Interlocked.Read(ref highest))
                    {
                        Interlocked.Exchange(ref highest, sequence);
                    }
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
            }

            await acker;
        }, TestContext.Current.CancellationToken)).ToArray();

        // Kill the leader twice while entries flow, and bring each victim back.
        for (var kill = 0; kill < 2; kill++)
        {
            await AgentProcesses.EventuallyAsync(() => Task.FromResult<object?>(seen.Count > (kill + 1) * 25_000 ? new object() : null), TimeSpan.FromMinutes(2), $"{(kill + 1) * 25_000} entries consumed");
            var leader = (int)await agents.LeaderAsync(TimeSpan.FromSeconds(30));
            agents.Kill(leader);
            output.WriteLine($"killed leader {leader} at {seen.Count} entries consumed");
            await agents.LeaderAsync(TimeSpan.FromSeconds(30));
            agents.Start(leader, ["--join", agents.JoinList(3)]);
        }

        await produce;
        await using var check = agents.NewClient(all, maxRetries: 60);
        var info = await AgentProcesses.EventuallyAsync(async () =>
        {
            var c = await check.GetConsumerInfoAsync("orders", "billing", TestContext.Current.CancellationToken);
            return c.AckFloor == Entries ? c : null;
        }, TimeSpan.FromMinutes(2), "the replicated ack floor to reach the last entry (what was not acknowledged is delivered again and acknowledged)");
        await stop.CancelAsync();
        await Task.WhenAll(instances);

        Assert.Equal(Entries, seen.Count); // every entry delivered, none skipped
        Assert.Equal(Enumerable.Range(1, Entries).Select(i => (ulong)i), seen.Keys.Order());
        output.WriteLine($"{Entries} entries consumed by two instances across two leader kills: {redelivered} redelivered, {orderBreaks} first deliveries below an earlier one of the same instance (after a leader change); {info}");
    }

    /// <summary>An ack lost to a leader change is harmless: the entries come again after the ack timeout and are acked then.</summary>
    private static async Task AckQuietlyAsync(WalrusClient client, ulong upTo)
    {
        try
        {
            await client.AckAsync("orders", "billing", upTo, TestContext.Current.CancellationToken);
        }
        catch (WalrusException)
        {
        }
    }
}
