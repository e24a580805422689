using System.Text;
using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class ReadIndexTests
{
    [Fact]
    public void ReadIndex_returns_only_after_a_quorum_confirms_the_leadership()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "x");
        var commit = leader.Status.Commit;

        cluster.Isolate(1);
        Assert.True(leader.Raft.ReadIndex("r1"u8.ToArray()));
        cluster.Stabilize();
        Assert.Empty(leader.ReadStates);

        cluster.Heal();
        cluster.TickAll(1);
        var read = Assert.Single(leader.ReadStates);
        Assert.Equal(commit, read.Index);
        Assert.Equal("r1", Encoding.UTF8.GetString(read.Context.Span));
    }

    [Fact]
    public void A_deposed_leader_never_answers_a_read_while_the_majority_moves_on()
    {
        var cluster = new TestCluster(3, configure: o => o.CheckQuorum = false);
        var oldLeader = cluster.Elect(1);
        cluster.Isolate(1);
        cluster.TickAll(30);
        var newLeader = cluster.Leaders().Single(l => l.Id != 1);
        cluster.Propose(newLeader.Id, "newer write");

        Assert.True(oldLeader.Raft.ReadIndex("stale?"u8.ToArray()));
        cluster.TickAll(5);
        Assert.Empty(oldLeader.ReadStates);
    }

    [Fact]
    public void A_follower_read_is_forwarded_and_answered_with_the_leaders_commit_index()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "x");

        Assert.True(cluster[2].Raft.ReadIndex("f"u8.ToArray()));
        cluster.Stabilize();
        cluster.TickAll(1);

        var read = Assert.Single(cluster[2].ReadStates);
        Assert.Equal(leader.Status.Commit, read.Index);
    }

    [Fact]
    public void A_new_leader_refuses_reads_until_it_commits_an_entry_of_its_term()
    {
        var cluster = new TestCluster(3);
        cluster.Filter = m => !(m.Type == RaftMessageType.Append && m.Entries.Count > 0);
        var leader = cluster.Elect(1);
        Assert.False(leader.Raft.ReadIndex("early"u8.ToArray()));

        cluster.Filter = null;
        cluster.TickAll(2);
        Assert.True(leader.Raft.ReadIndex("later"u8.ToArray()));
    }

    [Fact]
    public void Lease_reads_answer_at_once_when_enabled()
    {
        var cluster = new TestCluster(3, configure: o => o.ReadConsistency = ReadConsistency.Lease);
        var leader = cluster.Elect(1);
        cluster.Isolate(1);

        Assert.True(leader.Raft.ReadIndex("lease"u8.ToArray()));
        cluster.ProcessReadies();
        Assert.Single(leader.ReadStates);
    }

    [Fact]
    public void Lease_reads_require_CheckQuorum()
    {
        var options = new RaftOptions { Id = 1, Random = new SeededRaftRandom(1), ReadConsistency = ReadConsistency.Lease, CheckQuorum = false };
        Assert.Throws<ArgumentException>(() => new RaftNode(options, new MemoryRaftLogStorage()));
    }
}
