using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class ProposalTests
{
    [Fact]
    public void A_follower_refuses_proposals_and_names_the_leader()
    {
        var cluster = new TestCluster(3);
        cluster.Elect(1);
        Assert.Equal(ProposalStatus.NotLeader, cluster[2].Raft.Propose("x"u8.ToArray()).Status);
        Assert.Equal(1UL, cluster[2].Status.Leader);
    }

    [Fact]
    public void An_entry_above_the_payload_limit_is_refused()
    {
        var storage = MemoryRaftLogStorage.Bootstrap(ClusterConfig.Create([1]));
        var node = new RaftNode(new RaftOptions { Id = 1, Random = new SeededRaftRandom(1), MaxEntryPayloadBytes = 10 }, storage);
        node.Campaign();
        Assert.Equal(ProposalStatus.TooLarge, node.Propose(new byte[11]).Status);
        Assert.True(node.Propose(new byte[10]).IsAccepted);
    }

    [Fact]
    public void Proposals_beyond_the_uncommitted_byte_limit_are_refused_until_entries_commit()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Isolate(1);

        // The options cap uncommitted bytes at 64 MiB; fill it with 1 MiB entries that cannot commit.
        var accepted = 0;
        while (leader.Raft.Propose(new byte[1 << 20]).IsAccepted)
        {
            accepted++;
        }

        Assert.Equal(64, accepted);
        Assert.Equal(ProposalStatus.Overloaded, leader.Raft.Propose(new byte[1]).Status);
    }

    [Fact]
    public void A_batch_gets_consecutive_indexes_and_commits_in_order()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        var first = leader.Status.LastIndex + 1;

        var result = leader.Raft.ProposeBatch(["a"u8.ToArray(), "b"u8.ToArray(), "c"u8.ToArray()]);
        cluster.Stabilize();

        Assert.Equal(first + 2, result.Index);
        Assert.All(cluster.Nodes.Values, n =>
        {
            Assert.Equal("a"u8.ToArray(), n.Applied[first].Payload.ToArray());
            Assert.Equal("c"u8.ToArray(), n.Applied[first + 2].Payload.ToArray());
        });
    }

    [Fact]
    public void Checkpoint_markers_replicate_like_normal_entries()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        var result = leader.Raft.Propose("ckpt"u8.ToArray(), EntryType.CheckpointMarker);
        cluster.Stabilize();
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(EntryType.CheckpointMarker, n.Applied[result.Index].Type));
    }

    [Fact]
    public void Ready_asks_for_fsync_only_when_term_vote_or_entries_change()
    {
        var cluster = new TestCluster(3);
        cluster.Elect(1);
        var follower = cluster[2].Raft;

        follower.Step(new RaftMessage { Type = RaftMessageType.Heartbeat, From = 1, To = 2, Term = follower.Status.Term, Commit = follower.Status.Commit });
        var ready = follower.GetReady();
        Assert.False(ready.MustSync);
        Assert.Single(ready.Messages);
        follower.Advance(ready);
    }
}
