using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class LeadershipTransferTests
{
    [Fact]
    public void Leadership_transfers_to_an_up_to_date_follower()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "x");
        var term = leader.Status.Term;

        Assert.True(leader.Raft.TransferLeadership(2));
        cluster.Stabilize();

        Assert.Equal(RaftRole.Leader, cluster[2].Status.Role);
        Assert.Equal(term + 1, cluster[2].Status.Term);
        Assert.Equal(RaftRole.Follower, leader.Status.Role);
        Assert.Contains(cluster.Sent, m => m.Type == RaftMessageType.TimeoutNow && m.From == 1 && m.To == 2);
        Assert.True(cluster.Propose(2, "after transfer").IsAccepted);
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(cluster[2].Status.Commit, n.Status.Commit));
    }

    [Fact]
    public void Leadership_transfer_to_a_lagging_follower_first_catches_it_up()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Isolate(3);
        for (var i = 0; i < 5; i++)
        {
            cluster.Propose(1, $"e{i}");
        }

        Assert.True(leader.Raft.TransferLeadership(3));
        Assert.Equal(ProposalStatus.TransferInProgress, leader.Raft.Propose("refused"u8.ToArray()).Status);

        cluster.Heal();
        cluster.TickAll(2);

        Assert.Equal(RaftRole.Leader, cluster[3].Status.Role);
        Assert.Equal(RaftRole.Follower, leader.Status.Role);
    }

    [Fact]
    public void A_transfer_that_cannot_complete_is_abandoned_after_an_election_timeout()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Cut(1, 3);

        Assert.True(leader.Raft.TransferLeadership(3));
        Assert.Equal(ProposalStatus.TransferInProgress, leader.Raft.Propose("refused"u8.ToArray()).Status);
        cluster.TickAll(10);

        Assert.Equal(RaftRole.Leader, leader.Status.Role);
        Assert.True(leader.Raft.Propose("accepted"u8.ToArray()).IsAccepted);
    }

    [Fact]
    public void Transfer_is_refused_for_self_non_members_learners_and_on_followers()
    {
        var cluster = new TestCluster(3, learners: 1);
        var leader = cluster.Elect(1);
        Assert.False(leader.Raft.TransferLeadership(1));
        Assert.False(leader.Raft.TransferLeadership(9));
        Assert.False(leader.Raft.TransferLeadership(4));
        Assert.False(cluster[2].Raft.TransferLeadership(3));
    }
}
