using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

public sealed class StatusTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Cluster_status_asks_the_configured_endpoint_and_every_peer_it_reports_including_unreachable_ones()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        var gone = await FakeAgent.StartAsync(3, log);
        var goneEndpoint = gone.Endpoint;
        await gone.DisposeAsync();
        follower.Leader = leader;
        leader.Peers.Add((2, follower.Endpoint));
        leader.Peers.Add((3, goneEndpoint));
        await using var client = TestClients.Create(leader.Endpoint);

        var nodes = await client.GetClusterStatusAsync(Ct);

        Assert.Equal(3, nodes.Count);
        Assert.Equal([1ul, 2ul], nodes.Where(n => n.Status is not null).Select(n => n.Status!.NodeId));
        Assert.Equal(NodeRole.Leader, nodes[0].Status!.Role);
        Assert.Equal(NodeRole.Follower, nodes[1].Status!.Role);
        Assert.Equal(1ul, nodes[1].Status!.LeaderId);
        Assert.Equal(follower.Endpoint, nodes[1].Status!.Addresses["client"]);
        Assert.Equal(goneEndpoint, nodes[2].Endpoint);
        Assert.NotNull(nodes[2].Error);
    }

    [Fact(Timeout = 30_000)]
    public async Task Status_and_members_map_every_field()
    {
        await using var agent = await FakeAgent.StartAsync(7);
        agent.Peers.Add((8, "127.0.0.1:1"));
        await using var client = TestClients.Create(agent.Endpoint);

        var status = await client.GetStatusAsync(Ct);
        var members = await client.GetMembersAsync(Ct);

        Assert.Equal(7ul, status.NodeId);
        Assert.Equal("node-7", status.Name);
        Assert.Equal(agent.Endpoint, status.Endpoint);
        Assert.Equal("tcp", status.TransportMode);
        Assert.Equal([8ul], status.Peers.Select(p => p.NodeId));
        Assert.Equal(2, members.Count);
        Assert.Equal(MemberState.Alive, members[0].State);
        Assert.Equal("leader", members[0].Metadata["role"]);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), members[0].LastUpdateAge);
        Assert.Equal(MemberState.Suspect, members[1].State);
    }
}
