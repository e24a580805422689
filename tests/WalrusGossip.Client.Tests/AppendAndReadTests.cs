using System.Text;
using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

public sealed class AppendAndReadTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Append_returns_the_committed_index_and_term_and_read_returns_the_same_bytes()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);

        var first = await client.AppendAsync("hello"u8.ToArray(), cancellationToken: Ct);
        var second = await client.AppendAsync(new byte[] { 0, 255, 10, 13 }, "metrics", Ct);

        Assert.Equal(new AppendResult(1, agent.Log.Term), first);
        Assert.Equal(new AppendResult(2, agent.Log.Term), second);
        var read = await client.ReadAsync(2, cancellationToken: Ct);
        Assert.Equal(2ul, read.Index);
        Assert.Equal("metrics", read.Stream);
        Assert.Equal(new byte[] { 0, 255, 10, 13 }, read.Payload.ToArray());
        Assert.Null((await client.ReadAsync(1, Consistency.Stale, Ct)).Stream);
    }

    [Fact(Timeout = 30_000)]
    public async Task Every_append_carries_the_client_id_and_a_sequence_that_grows_by_one_per_append()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);

        await client.AppendAsync("a"u8.ToArray(), cancellationToken: Ct);
        await client.AppendBatchAsync([(null, "b"u8.ToArray()), ("s", "c"u8.ToArray())], Ct);
        await client.AppendAsync("d"u8.ToArray(), cancellationToken: Ct);

        Assert.NotEqual(0ul, client.ClientId);
        Assert.Equal([(client.ClientId, 1ul), (client.ClientId, 2ul), (client.ClientId, 3ul), (client.ClientId, 4ul)], agent.Log.Arrivals);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_batch_is_committed_at_consecutive_indexes_in_order()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        await client.AppendAsync("first"u8.ToArray(), cancellationToken: Ct);

        var results = await client.AppendBatchAsync([(null, "x"u8.ToArray()), (null, "y"u8.ToArray()), ("z", "z"u8.ToArray())], Ct);

        Assert.Equal([2ul, 3ul, 4ul], results.Select(r => r.Index));
        var range = await client.ReadRangeAsync(2, cancellationToken: Ct);
        Assert.Equal(["x", "y", "z"], range.Entries.Select(e => Encoding.UTF8.GetString(e.Payload.Span)));
        Assert.Equal(4ul, range.LastIndex);
    }

    [Fact(Timeout = 30_000)]
    public async Task Concurrent_requests_share_one_connection_and_each_gets_its_own_answer()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);

        var appends = await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.AppendAsync(Encoding.UTF8.GetBytes($"entry-{i}"), cancellationToken: Ct)));

        Assert.Equal(Enumerable.Range(1, 200).Select(i => (ulong)i), appends.Select(a => a.Index).Order());
        Assert.Equal(1, agent.ConnectionsAccepted);
        foreach (var entry in agent.Log.Snapshot())
        {
            var read = await client.ReadAsync(entry.Index, cancellationToken: Ct);
            Assert.Equal(entry.Payload.ToByteArray(), read.Payload.ToArray());
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Appends_waiting_for_a_lane_are_coalesced_into_one_request_and_each_gets_its_own_index()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.MaxConcurrentAppends = 1;
        await using var client = new WalrusClient(options);
        agent.HoldAppends = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var appends = Enumerable.Range(0, 100).Select(i => client.AppendAsync(Encoding.UTF8.GetBytes($"entry-{i}"), cancellationToken: Ct)).ToList();
        var batch = client.AppendBatchAsync([(null, "b1"u8.ToArray()), (null, "b2"u8.ToArray())], Ct);
        while (agent.AppendRequests < 1)
        {
            await Task.Delay(5, Ct); // poll: the first append is on its way to the held agent
        }

        agent.HoldAppends.SetResult();
        var results = await Task.WhenAll(appends);
        var batchResults = await batch;

        Assert.Equal(2, agent.AppendRequests); // the first alone; the 101 entries that waited in one request
        Assert.Equal(Enumerable.Range(1, 100).Select(i => (ulong)i), results.Select(r => r.Index));
        Assert.Equal([101ul, 102ul], batchResults.Select(r => r.Index));
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal($"entry-{i}", Encoding.UTF8.GetString((await client.ReadAsync(results[i].Index, cancellationToken: Ct)).Payload.Span));
        }

        Assert.Equal(Enumerable.Range(1, 102).Select(i => (client.ClientId, (ulong)i)), agent.Log.Arrivals);
        Assert.Equal([1ul, 2ul], agent.AcknowledgedBelow); // each request frees the answers of the lane's earlier ones
    }

    [Fact(Timeout = 30_000)]
    public async Task An_invalid_append_coalesced_with_others_fails_alone()
    {
        await using var agent = await FakeAgent.StartAsync();
        agent.MaxPayloadBytes = 100;
        var options = TestClients.Options(agent.Endpoint);
        options.MaxConcurrentAppends = 1;
        await using var client = new WalrusClient(options);
        agent.HoldAppends = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var appends = Enumerable.Range(0, 10).Select(i => client.AppendAsync(new byte[i == 5 ? 1000 : 10], cancellationToken: Ct)).ToList();
        while (agent.AppendRequests < 1)
        {
            await Task.Delay(5, Ct);
        }

        agent.HoldAppends.SetResult();
        await Assert.ThrowsAsync<WalrusInvalidArgumentException>(() => appends[5]);
        var stored = await Task.WhenAll(appends.Where((_, i) => i != 5));
        Assert.Equal(9, stored.Select(r => r.Index).Distinct().Count());
        Assert.Equal(9, agent.Log.Snapshot().Length);
    }

    [Fact(Timeout = 30_000)]
    public async Task Reading_past_the_end_gives_an_empty_range_and_ReadAsync_throws_not_found()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        await client.AppendAsync("only"u8.ToArray(), cancellationToken: Ct);

        var range = await client.ReadRangeAsync(2, cancellationToken: Ct);

        Assert.Empty(range.Entries);
        await Assert.ThrowsAsync<WalrusNotFoundException>(() => client.ReadAsync(2, cancellationToken: Ct));
    }
}
