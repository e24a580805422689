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
