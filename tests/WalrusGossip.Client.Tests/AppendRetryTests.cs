using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

/// <summary>Client sessions (Raft dissertation §6.3): a retried append is answered with its original index, never stored twice.</summary>
public sealed class AppendRetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task A_retry_after_the_connection_dropped_the_response_reuses_the_sequence_and_returns_the_original_index()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        await client.AppendAsync("before"u8.ToArray(), cancellationToken: Ct);
        agent.AppendFaults.Enqueue(AppendFault.DropConnectionAfterApply);

        var result = await client.AppendAsync("once"u8.ToArray(), cancellationToken: Ct);
        var after = await client.AppendAsync("after"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(2ul, result.Index);
        Assert.Equal(3ul, after.Index);
        Assert.Equal(3ul, agent.Log.LastIndex);
        Assert.Equal(["before", "once", "after"], agent.Log.Snapshot().Select(e => e.Payload.ToStringUtf8()));
        Assert.Equal([1ul, 2ul, 2ul, 3ul], agent.Log.Arrivals.Select(a => a.Sequence));
        Assert.Equal(2, agent.ConnectionsAccepted);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_retry_after_an_attempt_timed_out_without_answer_returns_the_original_index()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.RequestTimeout = TimeSpan.FromSeconds(1);
        await using var client = new WalrusClient(options);
        await client.GetStatusAsync(Ct); // connect first: the short timeout is for the append, not the TLS handshake
        agent.AppendFaults.Enqueue(AppendFault.NoAnswerAfterApply);

        var result = await client.AppendAsync("slow"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(1ul, result.Index);
        Assert.Equal(1ul, agent.Log.LastIndex);
        Assert.Equal([1ul, 1ul], agent.Log.Arrivals.Select(a => a.Sequence));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_retried_batch_reuses_all_its_sequences_and_stores_nothing_twice()
    {
        await using var agent = await FakeAgent.StartAsync();
        await using var client = TestClients.Create(agent.Endpoint);
        agent.AppendFaults.Enqueue(AppendFault.DropConnectionAfterApply);

        var results = await client.AppendBatchAsync([(null, "a"u8.ToArray()), (null, "b"u8.ToArray()), (null, "c"u8.ToArray())], Ct);

        Assert.Equal([1ul, 2ul, 3ul], results.Select(r => r.Index));
        Assert.Equal(3ul, agent.Log.LastIndex);
        Assert.Equal([1ul, 2ul, 3ul, 1ul, 2ul, 3ul], agent.Log.Arrivals.Select(a => a.Sequence));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_retry_through_a_redirect_to_another_agent_still_returns_the_original_index()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        await using var client = TestClients.Create(follower.Endpoint);
        leader.AppendFaults.Enqueue(AppendFault.DropConnectionAfterApply);

        var result = await client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(1ul, result.Index);
        Assert.Equal(1ul, log.LastIndex);
    }

    [Fact(Timeout = 60_000)]
    public async Task Concurrent_appends_through_one_client_keep_each_session_in_sequence_order_across_retries()
    {
        await using var agent = await FakeAgent.StartAsync();
        var options = TestClients.Options(agent.Endpoint);
        options.MaxConcurrentAppends = 8;
        options.MaxRetries = 6; // each of the 5 dropped connections fails a request at most once
        await using var client = new WalrusClient(options);
        for (var i = 0; i < 5; i++)
        {
            agent.AppendFaults.Enqueue(AppendFault.DropConnectionAfterApply);
        }

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(worker => Task.Run(async () =>
        {
            var indexes = new List<ulong>();
            for (var i = 0; i < 50; i++)
            {
                indexes.Add((await client.AppendAsync(System.Text.Encoding.UTF8.GetBytes($"{worker}-{i}"), cancellationToken: Ct)).Index);
            }

            return indexes;
        }, Ct)));

        Assert.Equal(800ul, agent.Log.LastIndex);
        Assert.Equal(800, results.SelectMany(r => r).Distinct().Count());
        Assert.Equal(800, agent.Log.Snapshot().Select(e => e.Payload.ToStringUtf8()).Distinct().Count());
        var sessions = agent.Log.Arrivals.GroupBy(a => a.ClientId).ToList();
        Assert.InRange(sessions.Count, 1, 8);
        Assert.Contains(sessions, s => s.Key == client.ClientId);
        foreach (var session in sessions)
        {
            // First arrivals come in sequence order without gaps. A retried batch request re-sends its whole run of
            // sequences (arrivals 1, 2, 1, 2), so later arrivals may repeat lower sequences; they are the retries.
            var sequences = session.Select(a => a.Sequence).ToList();
            Assert.Equal(Enumerable.Range(1, sequences.Distinct().Count()).Select(i => (ulong)i), sequences.Distinct());
        }
    }
}
