using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class LearnerTests
{
    [Fact]
    public void A_learner_receives_the_log()
    {
        var cluster = new TestCluster(3, learners: 1);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "to everyone");
        cluster.TickAll(1);
        Assert.Equal(leader.Status.Commit, cluster[4].Status.Commit);
        Assert.Equal(RaftRole.Follower, cluster[4].Status.Role);
    }

    [Fact]
    public void A_learner_never_campaigns_even_when_it_hears_from_no_leader()
    {
        var cluster = new TestCluster(3, learners: 1);
        cluster.Isolate(4);
        cluster.TickAll(100);
        Assert.DoesNotContain(cluster.Sent, m => m.From == 4 && m.Type is RaftMessageType.Vote or RaftMessageType.PreVote);
        Assert.Equal(RaftRole.Follower, cluster[4].Status.Role);
    }

    [Fact]
    public void A_learners_acknowledgement_is_never_counted_for_commit()
    {
        var cluster = new TestCluster(3, learners: 1);
        var leader = cluster.Elect(1);
        var commit = leader.Status.Commit;
        cluster.Cut(1, 2);
        cluster.Cut(1, 3);

        leader.Raft.Propose("needs a voter"u8.ToArray());
        cluster.Stabilize();

        Assert.Equal(leader.Status.LastIndex, cluster[4].Status.LastIndex);
        Assert.Equal(commit, leader.Status.Commit);
    }

    [Fact]
    public void A_learners_vote_is_never_counted_by_a_candidate()
    {
        var cluster = new TestCluster(3, learners: 1, configure: o => o.PreVote = false);
        cluster.Cut(1, 2);
        cluster.Cut(1, 3);

        cluster[1].Raft.Campaign();
        cluster.Stabilize();
        var term = cluster[1].Status.Term;

        // A grant from the learner would give the candidate 2 of 3 votes if learners counted.
        cluster[1].Raft.Step(new RaftMessage { Type = RaftMessageType.VoteResponse, From = 4, To = 1, Term = term });
        cluster.ProcessReadies();

        Assert.Equal(RaftRole.Candidate, cluster[1].Status.Role);
    }

    [Fact]
    public void A_learner_is_not_sent_vote_requests_in_normal_elections()
    {
        var cluster = new TestCluster(3, learners: 1, configure: o => o.PreVote = false);
        cluster.Elect(1);
        Assert.DoesNotContain(cluster.Sent, m => m.To == 4 && m.Type is RaftMessageType.Vote or RaftMessageType.PreVote);
    }
}
