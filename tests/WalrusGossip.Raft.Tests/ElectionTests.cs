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

    [Fact]
    public void Election_timeouts_are_randomized_within_one_to_two_election_timeouts()
    {
        var cluster = new TestCluster(5);
        var timeouts = cluster.Nodes.Values.Select(n => n.Raft.RandomizedElectionTimeout).ToList();
        Assert.All(timeouts, t => Assert.InRange(t, 10, 19));
        Assert.True(timeouts.Distinct().Count() > 1);
    }

    [Fact]
    public void A_split_vote_leaves_the_term_leaderless_and_a_later_election_resolves_it()
    {
        var cluster = new TestCluster(3, configure: o => o.PreVote = false);
        foreach (var node in cluster.Nodes.Values)
        {
            node.Raft.Campaign();
        }

        cluster.Stabilize();

        // Every node voted for itself in term 2, so nobody won.
        Assert.Empty(cluster.Leaders());
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(2UL, n.Status.Term));

        cluster.TickAll(40);
        var leader = Assert.Single(cluster.Leaders());
        Assert.True(leader.Status.Term > 2);
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Id, n.Status.Leader));
    }

    [Fact]
    public void Repeated_split_votes_always_resolve_to_exactly_one_leader()
    {
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var cluster = new TestCluster(5, seed: seed);
            foreach (var node in cluster.Nodes.Values)
            {
                node.Raft.Campaign();
            }

            cluster.Stabilize();
            cluster.TickAll(60);
            var leader = Assert.Single(cluster.Leaders());
            Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Id, n.Status.Leader));
        }
    }

    [Fact]
    public void A_partitioned_old_leader_cannot_commit_and_steps_down_under_CheckQuorum()
    {
        var cluster = new TestCluster(3);
        var oldLeader = cluster.Elect(1);
        var oldTerm = oldLeader.Status.Term;
        cluster.Isolate(1);

        var proposal = oldLeader.Raft.Propose("lost"u8.ToArray());
        Assert.True(proposal.IsAccepted);
        var commitBefore = oldLeader.Status.Commit;

        // The majority side elects a new leader and commits.
        cluster.TickAll(30);
        var newLeader = cluster.Leaders().Single(l => l.Id != 1);
        Assert.True(newLeader.Status.Term > oldTerm);
        cluster.Propose(newLeader.Id, "kept");

        // The old leader never committed its proposal and gave up leadership after an election timeout.
        Assert.Equal(commitBefore, oldLeader.Status.Commit);
        Assert.Equal(RaftRole.Follower, oldLeader.Status.Role);
        Assert.Equal(oldTerm, oldLeader.Status.Term);

        cluster.Heal();
        cluster.TickAll(3);
        Assert.Equal(newLeader.Status.LastIndex, oldLeader.Status.LastIndex);
        Assert.NotEqual(proposal.Term, oldLeader.EntryAt(proposal.Index)!.Value.Term);
        Assert.Equal(newLeader.Status.Commit, oldLeader.Status.Commit);
    }

    [Fact]
    public void Without_CheckQuorum_a_partitioned_leader_keeps_believing_it_leads()
    {
        var cluster = new TestCluster(3, configure: o => o.CheckQuorum = false);
        var oldLeader = cluster.Elect(1);
        cluster.Isolate(1);
        cluster.TickAll(30);
        Assert.Equal(RaftRole.Leader, oldLeader.Status.Role);
    }

    [Fact]
    public void PreVote_stops_a_rejoining_node_from_disrupting_a_stable_leader()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        var term = leader.Status.Term;
        cluster.Isolate(3);
        cluster.TickAll(50);

        // While cut off, node 3 only pre-campaigned: its term did not move.
        Assert.Equal(term, cluster[3].Status.Term);
        Assert.Contains(cluster.Sent, m => m.From == 3 && m.Type == RaftMessageType.PreVote);
        Assert.DoesNotContain(cluster.Sent, m => m.From == 3 && m.Type == RaftMessageType.Vote);

        cluster.Heal();
        cluster.TickAll(20);
        Assert.Equal(RaftRole.Leader, leader.Status.Role);
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(term, n.Status.Term));
        Assert.Equal(1UL, cluster[3].Status.Leader);
    }

    [Fact]
    public void Without_PreVote_a_rejoining_node_disrupts_the_leader()
    {
        var cluster = new TestCluster(3, configure: o =>
        {
            o.PreVote = false;
            o.CheckQuorum = false;
        });
        var leader = cluster.Elect(1);
        var term = leader.Status.Term;
        cluster.Isolate(3);
        cluster.TickAll(50);
        Assert.True(cluster[3].Status.Term > term);

        cluster.Heal();
        cluster.TickAll(1);
        Assert.True(leader.Status.Term > term);
    }

    [Fact]
    public void Followers_that_hear_from_a_leader_ignore_vote_requests_from_a_removed_or_lagging_node()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        var term = leader.Status.Term;

        cluster[2].Raft.Step(new RaftMessage { Type = RaftMessageType.Vote, From = 3, To = 2, Term = term + 5, Index = 100, LogTerm = term });
        cluster.ProcessReadies();

        Assert.Equal(term, cluster[2].Status.Term);
        Assert.Equal(1UL, cluster[2].Status.Leader);
    }

    [Fact]
    public void Followers_that_suspect_their_leader_elect_the_lowest_ranked_survivor_within_a_fifth_of_the_election_timeout()
    {
        var cluster = new TestCluster(3, configure: o => o.ElectionTicks = 50);
        var leader = cluster.Elect(1);
        cluster.Isolate(1); // the leader dies: nothing more from it
        cluster[2].Raft.SuspectLeader(3); // not its leader: ignored
        cluster[2].Raft.SuspectLeader(1);
        cluster[3].Raft.SuspectLeader(1);

        var ticks = 0;
        while (cluster.Leaders().All(n => n.Id == 1) && ticks < 11)
        {
            cluster[2].Raft.Tick();
            cluster[3].Raft.Tick();
            cluster.Stabilize();
            ticks++;
        }

        var next = Assert.Single(cluster.Leaders(), n => n.Id != 1);
        Assert.Equal(2ul, next.Id); // rank 0 among the survivors
        Assert.Equal(leader.Status.Term + 1, next.Status.Term); // no split vote
        Assert.InRange(ticks, 1, 2);
    }

    [Fact]
    public void A_wrong_suspicion_of_a_live_leader_does_not_depose_it()
    {
        var cluster = new TestCluster(3, configure: o => o.ElectionTicks = 50);
        var leader = cluster.Elect(1);
        var term = leader.Status.Term;
        cluster[2].Raft.SuspectLeader(1);

        cluster.TickAll(200);

        Assert.Equal(1ul, Assert.Single(cluster.Leaders()).Id);
        Assert.Equal(term, leader.Status.Term);
    }
}
