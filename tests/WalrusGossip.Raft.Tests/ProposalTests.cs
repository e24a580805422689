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
    public void A_single_node_leader_commits_an_entry_only_after_its_write_is_acknowledged()
    {
        var storage = MemoryRaftLogStorage.Bootstrap(ClusterConfig.Create([1]));
        var node = new RaftNode(new RaftOptions { Id = 1, Random = new SeededRaftRandom(1) }, storage);
        node.Campaign();
        Drain(node, storage);
        var index = node.Propose("x"u8.ToArray()).Index;

        var ready = node.GetReady();
        Assert.Contains(ready.Entries.ToArray(), e => e.Index == index);
        Assert.DoesNotContain(ready.CommittedEntries.ToArray(), e => e.Index == index);
        Assert.True(node.Status.Commit < index);
        storage.Append(ready.Entries);
        node.Advance(ready);

        Assert.Equal(index, node.Status.Commit);
        Assert.True(node.HasReady);
        Assert.Contains(node.GetReady().CommittedEntries.ToArray(), e => e.Index == index);
    }

    [Fact]
    public void A_leader_sends_entries_before_writing_them_but_counts_its_copy_only_after_the_write()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Stabilize();
        var index = leader.Raft.Propose("x"u8.ToArray()).Index;

        // The leader's Ready carries the entry and the AppendEntries for it; hold the leader's write back.
        var ready = leader.Raft.GetReady();
        Assert.Contains(ready.Entries.ToArray(), e => e.Index == index);
        Assert.Contains(ready.Messages.ToArray(), m => m.Type == RaftMessageType.Append && m.To == 2 && m.Entries.Any(e => e.Index == index));

        // One follower writes and acknowledges: with the leader's copy not yet durable that is 1 of 3, no commit.
        var toTwo = ready.Messages.ToArray().First(m => m.Type == RaftMessageType.Append && m.To == 2);
        cluster.Deliver(toTwo);
        cluster.ProcessReady(cluster[2]);
        var ack = cluster.Queue.Single(m => m.Type == RaftMessageType.AppendResponse && m.From == 2);
        cluster.Queue.Clear();
        leader.Raft.Step(ack);
        Assert.True(leader.Status.Commit < index);

        // The leader's own write completes: 2 of 3 durable copies, the entry commits.
        leader.Storage.Append(ready.Entries);
        leader.Raft.Advance(ready);
        Assert.Equal(index, leader.Status.Commit);
    }

    private static void Drain(RaftNode node, MemoryRaftLogStorage storage)
    {
        while (node.HasReady)
        {
            var ready = node.GetReady();
            storage.Append(ready.Entries);
            if (ready.HasHardState)
            {
                storage.SetHardState(ready.HardState);
            }

            node.Advance(ready);
        }
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
        Assert.Single(ready.Messages.ToArray());
        follower.Advance(ready);
    }
}
