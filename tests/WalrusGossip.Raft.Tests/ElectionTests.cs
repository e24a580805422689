using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class ElectionTests
{
    [Fact]
    public void A_single_node_elects_itself_and_commits_its_no_op()
    {
        var cluster = new TestCluster(1);
        var leader = cluster.Elect(1);
        Assert.Equal(2UL, leader.Status.Commit);
        Assert.Equal(EntryType.NoOp, leader.Applied[2].Type);
    }

    [Fact]
    public void A_three_node_cluster_elects_a_leader_by_timeout()
    {
        var cluster = new TestCluster(3);
        cluster.TickAll(30);
        Assert.Single(cluster.Leaders());
        var leader = cluster.Leaders()[0];
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Id, n.Status.Leader));
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Status.LastIndex, n.Status.Commit));
    }
}
