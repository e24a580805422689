using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

public sealed class LeaderRedirectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>
    /// Cold: the first append opens the connection and goes through the retry pipeline. Open: the connection is already
    /// up, so the first append takes the fast path, and NOT_LEADER must be redirected within that same attempt.
    /// Either way no retry is needed (MaxRetries 0).
    /// </summary>
    [Theory(Timeout = 30_000)]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_append_sent_to_a_follower_follows_NOT_LEADER_to_the_leader_and_later_requests_go_there_directly(bool connectionOpen)
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        var options = TestClients.Options(follower.Endpoint);
        options.MaxRetries = 0;
        await using var client = new WalrusClient(options);
        if (connectionOpen)
        {
            await client.GetStatusAsync(follower.Endpoint, Ct);
        }

        var first = await client.AppendAsync("a"u8.ToArray(), cancellationToken: Ct);
        var second = await client.AppendAsync("b"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(1ul, first.Index);
        Assert.Equal(2ul, second.Index);
        Assert.Equal(1, follower.AppendRequests);
        Assert.Equal(2, leader.AppendRequests);
        Assert.Equal(leader.Endpoint, client.LeaderEndpoint);
        Assert.Equal(2ul, log.LastIndex);
        Assert.Equal([1ul, 2ul], log.Arrivals.Select(a => a.Sequence));
    }

    [Fact(Timeout = 30_000)]
    public async Task A_linearizable_read_on_a_follower_is_redirected_but_a_stale_read_is_served_locally()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        log.Append(0, 0, "", Google.Protobuf.ByteString.CopyFromUtf8("x"));
        await using var staleClient = TestClients.Create(follower.Endpoint);
        await using var client = TestClients.Create(follower.Endpoint);

        await staleClient.ReadAsync(1, Consistency.Stale, Ct);
        Assert.Equal(0, leader.ReadRequests);
        await client.ReadAsync(1, Consistency.Linearizable, Ct);

        Assert.Equal(1, leader.ReadRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_follower_that_forwards_writes_answers_directly_without_a_redirect()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        follower.ForwardsWrites = true;
        await using var client = TestClients.Create(follower.Endpoint);

        var result = await client.AppendAsync("forwarded"u8.ToArray(), cancellationToken: Ct);

        Assert.Equal(1ul, result.Index);
        Assert.Equal(0, leader.AppendRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task When_the_first_endpoint_knows_no_leader_the_client_tries_the_other_endpoints()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var lost = await FakeAgent.StartAsync(2, log);
        lost.Leader = leader;
        lost.LeaderUnknown = true;
        await using var client = TestClients.Create(lost.Endpoint, leader.Endpoint);

        for (var i = 0; i < 4; i++)
        {
            await client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct);
        }

        Assert.Equal(4ul, log.LastIndex);
        Assert.Equal(4, leader.AppendRequests);
    }

    [Fact(Timeout = 30_000)]
    public async Task A_stopped_endpoint_is_skipped_in_favour_of_a_live_one()
    {
        var log = new FakeLog();
        await using var live = await FakeAgent.StartAsync(1, log);
        var dead = await FakeAgent.StartAsync(2, log);
        var deadEndpoint = dead.Endpoint;
        await dead.DisposeAsync();
        await using var client = TestClients.Create(deadEndpoint, live.Endpoint);

        for (var i = 0; i < 3; i++)
        {
            await client.AppendAsync("x"u8.ToArray(), cancellationToken: Ct);
        }

        Assert.Equal(3ul, log.LastIndex);
    }

    [Fact(Timeout = 30_000)]
    public async Task Transfer_leader_on_a_follower_finds_the_leader_by_its_id_through_status()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        follower.Peers.Add((1, leader.Endpoint));
        await using var client = TestClients.Create(follower.Endpoint);

        var result = await client.TransferLeaderAsync(2, Ct);

        Assert.Equal(2ul, result.LeaderId);
        Assert.Equal(leader.Endpoint, client.LeaderEndpoint);
    }

    [Fact(Timeout = 30_000)]
    public async Task Without_a_known_leader_requests_stay_on_one_endpoint_and_its_connection()
    {
        var log = new FakeLog();
        log.Append(0, 0, "", Google.Protobuf.ByteString.CopyFromUtf8("x"));
        await using var a = await FakeAgent.StartAsync(1, log);
        await using var b = await FakeAgent.StartAsync(2, log);
        await using var client = TestClients.Create(a.Endpoint, b.Endpoint);

        for (var i = 0; i < 5; i++)
        {
            await client.ReadAsync(1, Consistency.Stale, Ct);
        }

        Assert.Equal(5, a.ReadRequests);
        Assert.Equal(0, b.ConnectionsAccepted);
    }
}
