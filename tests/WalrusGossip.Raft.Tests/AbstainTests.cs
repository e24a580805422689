using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

/// <summary>
/// A node repairing a damaged log range abstains (protocol-aware recovery, PAR, FAST 2018): it steps down if leading,
/// never campaigns, still votes by the usual rules, keeps its hard state, and applies committed entries only up to its apply limit.
/// </summary>
public sealed class AbstainTests
{
    [Fact]
    public void An_abstaining_leader_steps_down_without_changing_its_hard_state_and_is_not_elected_again()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        var before = leader.Status;
        leader.Raft.SetAbstaining(true);
        Assert.Equal(RaftRole.Follower, leader.Status.Role);
        Assert.Equal(before.Term, leader.Status.Term);
        Assert.Equal(before.Commit, leader.Status.Commit);

        cluster.ProcessReadies();
        cluster.TickAll(100);
        var next = Assert.Single(cluster.Leaders());
        Assert.NotEqual(1ul, next.Id);
        Assert.False(cluster[1].IsLeader);
        Assert.True(cluster[1].Raft.IsAbstaining);
        Assert.Equal(next.Status.Commit, cluster[1].Status.Commit); // replication to it goes on
    }

    [Fact]
    public void Abstaining_voters_never_lead_but_still_vote_for_an_up_to_date_candidate()
    {
        var cluster = new TestCluster(3);
        cluster[1].Raft.SetAbstaining(true);
        cluster[2].Raft.SetAbstaining(true);
        cluster[3].Raft.SetAbstaining(true);
        cluster.TickAll(100);
        Assert.Empty(cluster.Leaders()); // nobody campaigns

        // Node 3 is whole again: the two abstaining nodes grant it their votes (its log is as up to date as theirs).
        cluster[3].Raft.SetAbstaining(false);
        cluster.TickAll(100);
        Assert.Equal(3ul, Assert.Single(cluster.Leaders()).Id);
        Assert.True(cluster[1].Raft.IsAbstaining);
        Assert.True(cluster[2].Raft.IsAbstaining);
    }

    [Fact]
    public void Committed_entries_are_applied_only_up_to_the_apply_limit_until_it_is_lifted()
    {
        var cluster = new TestCluster(3);
        cluster.Elect(1);
        var follower = cluster[2];
        var limit = follower.AppliedIndex;
        follower.Raft.SetApplyLimit(limit);
        for (var i = 0; i < 5; i++)
        {
            cluster.Propose(1, "entry " + i);
        }

        cluster.Stabilize();
        Assert.Equal(cluster[1].Status.Commit, follower.Status.Commit);
        Assert.Equal(limit, follower.AppliedIndex);

        follower.Raft.SetApplyLimit(ulong.MaxValue);
        cluster.TickAll(2);
        Assert.Equal(follower.Status.Commit, follower.AppliedIndex);
    }
}
