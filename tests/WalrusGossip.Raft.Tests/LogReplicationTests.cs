using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class LogReplicationTests
{
    private static readonly ClusterConfig Seven = ClusterConfig.Create([1, 2, 3, 4, 5, 6, 7]);

    [Fact]
    public void Figure7_every_follower_log_converges_to_the_new_leaders_log()
    {
        // Paper Figure 7 (our index 1 is the bootstrap configuration, so the figure's index i is our i + 1).
        var cluster = new TestCluster(7);
        LogBuilder.Replace(cluster, 1, LogBuilder.Storage(Seven, 7, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6)); // leader for term 8
        LogBuilder.Replace(cluster, 2, LogBuilder.Storage(Seven, 6, 1, 1, 1, 4, 4, 5, 5, 6, 6)); // (a) missing one
        LogBuilder.Replace(cluster, 3, LogBuilder.Storage(Seven, 4, 1, 1, 1, 4)); // (b) missing many
        LogBuilder.Replace(cluster, 4, LogBuilder.Storage(Seven, 6, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6)); // (c) one extra
        LogBuilder.Replace(cluster, 5, LogBuilder.Storage(Seven, 7, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7)); // (d) extra of term 7
        LogBuilder.Replace(cluster, 6, LogBuilder.Storage(Seven, 4, 1, 1, 1, 4, 4, 4, 4)); // (e) extra of term 4
        LogBuilder.Replace(cluster, 7, LogBuilder.Storage(Seven, 3, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3)); // (f) extra of terms 2, 3

        var leader = cluster.Elect(1);
        cluster.TickAll(2);

        Assert.Equal(8UL, leader.Status.Term);
        var expected = LogBuilder.Terms(leader);
        Assert.Equal(new ulong[] { 1, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8 }, expected);
        foreach (var node in cluster.Nodes.Values)
        {
            Assert.Equal(expected, LogBuilder.Terms(node));
            Assert.Equal(leader.Status.LastIndex, node.Status.Commit);
            for (var index = 1UL; index <= leader.Status.LastIndex; index++)
            {
                Assert.True(leader.EntryAt(index)!.Value.ContentEquals(node.EntryAt(index)!.Value));
            }
        }
    }

    [Fact]
    public void Fast_backtracking_skips_a_whole_conflicting_term_per_round_trip()
    {
        // Follower (f) of Figure 7 holds 7 entries of terms 2 and 3 the leader lacks; the hint lets the leader
        // skip each conflicting term in one rejection instead of one rejection per entry.
        var cluster = new TestCluster(3);
        var three = ClusterConfig.Create([1, 2, 3]);
        LogBuilder.Replace(cluster, 1, LogBuilder.Storage(three, 7, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6));
        LogBuilder.Replace(cluster, 2, LogBuilder.Storage(three, 6, 1, 1, 1, 4, 4, 5, 5, 6, 6, 6));
        LogBuilder.Replace(cluster, 3, LogBuilder.Storage(three, 3, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3));

        cluster.Elect(1);

        var rejections = cluster.Sent.Count(m => m.Type == RaftMessageType.AppendResponse && m.Reject && m.From == 3);
        Assert.InRange(rejections, 1, 3);
        Assert.Equal(LogBuilder.Terms(cluster[1]), LogBuilder.Terms(cluster[3]));
    }

    [Fact]
    public void Figure8_an_entry_of_a_previous_term_is_not_committed_by_counting_replicas()
    {
        // Figure 8 (c): S1 leads term 4; its term-2 entry (our index 2) is on S1, S2 and S3, a majority.
        var five = ClusterConfig.Create([1, 2, 3, 4, 5]);
        var cluster = new TestCluster(5);
        LogBuilder.Replace(cluster, 1, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 2, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 3, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 4, LogBuilder.Storage(five, 3));
        LogBuilder.Replace(cluster, 5, LogBuilder.Storage(five, 3, 3));

        // S1 wins term 4, but every message carrying its new no-op (index 3) is lost.
        cluster.Filter = m => !(m.Type == RaftMessageType.Append && m.Entries.Count > 0);
        cluster.Elect(1);
        var s1 = cluster[1];
        Assert.Equal(4UL, s1.Status.Term);

        // S2 and S3 acknowledge index 2, exactly what they answer to an empty append at (2, term 2).
        s1.Raft.Step(new RaftMessage { Type = RaftMessageType.AppendResponse, From = 2, To = 1, Term = 4, Index = 2 });
        s1.Raft.Step(new RaftMessage { Type = RaftMessageType.AppendResponse, From = 3, To = 1, Term = 4, Index = 2 });
        cluster.ProcessReadies();
        Assert.Equal(1UL, s1.Status.Commit);

        // Figure 8 (d) shows why: S5 (last term 3) can still win term 5 and overwrite index 2 everywhere.
        cluster.Filter = null;
        cluster.Queue.Clear();
        cluster.Isolate(1);
        foreach (var id in new ulong[] { 2, 3, 4, 5 })
        {
            for (var t = 0; t < 10; t++)
            {
                cluster[id].Raft.Tick();
            }
        }

        cluster.Queue.Clear();
        cluster.Elect(5);
        cluster.TickAll(2);
        foreach (var id in new ulong[] { 2, 3, 4, 5 })
        {
            Assert.Equal(3UL, cluster[id].EntryAt(2)!.Value.Term);
        }

        Assert.True(cluster[5].Status.Commit >= 3);
        Assert.Equal(1UL, s1.Status.Commit);
    }

    [Fact]
    public void Figure8_once_an_entry_of_the_current_term_is_replicated_earlier_entries_commit_with_it()
    {
        var five = ClusterConfig.Create([1, 2, 3, 4, 5]);
        var cluster = new TestCluster(5);
        LogBuilder.Replace(cluster, 1, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 2, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 3, LogBuilder.Storage(five, 3, 2));
        LogBuilder.Replace(cluster, 4, LogBuilder.Storage(five, 3));
        LogBuilder.Replace(cluster, 5, LogBuilder.Storage(five, 3, 3));
        cluster.Isolate(5);

        var s1 = cluster.Elect(1);

        // Figure 8 (e): the term-4 no-op reached a majority, so it and the term-2 entry before it are committed.
        Assert.Equal(3UL, s1.Status.Commit);
        Assert.Equal(2UL, s1.EntryAt(2)!.Value.Term);
    }

    [Fact]
    public void Pipelining_respects_the_in_flight_message_limit_per_follower()
    {
        var cluster = new TestCluster(3, configure: o =>
        {
            o.MaxInflightMessages = 2;
            o.MaxAppendBytes = 1; // one entry per message
        });
        var leader = cluster.Elect(1);
        cluster.Queue.Clear();

        for (var i = 0; i < 10; i++)
        {
            leader.Raft.Propose(new byte[] { (byte)i });
        }

        cluster.ProcessReadies();
        var appendsTo2 = cluster.Queue.Count(m => m.To == 2 && m.Type == RaftMessageType.Append);
        Assert.Equal(2, appendsTo2);

        cluster.Stabilize();
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Status.LastIndex, n.Status.LastIndex));
    }

    [Fact]
    public void Pipelining_respects_the_in_flight_byte_limit_per_follower()
    {
        var cluster = new TestCluster(3, configure: o =>
        {
            o.MaxInflightMessages = 100;
            o.MaxInflightBytes = 3000;
            o.MaxAppendBytes = 1100;
        });
        var leader = cluster.Elect(1);
        cluster.Queue.Clear();

        for (var i = 0; i < 10; i++)
        {
            leader.Raft.Propose(new byte[1000]);
        }

        cluster.ProcessReadies();
        var bytesTo2 = cluster.Queue.Where(m => m.To == 2 && m.Type == RaftMessageType.Append).Sum(m => m.Entries.Sum(e => (long)e.SizeBytes));
        Assert.InRange(bytesTo2, 1, 3000 + 1100);

        cluster.Stabilize();
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Status.LastIndex, n.Status.Commit));
    }

    [Fact]
    public void Proposals_made_between_two_readies_go_to_each_follower_in_one_message()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Queue.Clear();

        for (var i = 0; i < 50; i++)
        {
            Assert.True(leader.Raft.Propose(new byte[] { (byte)i }).IsAccepted);
        }

        cluster.ProcessReadies();
        var appends = cluster.Queue.Where(m => m.Type == RaftMessageType.Append).ToList();
        Assert.Equal(2, appends.Count);
        Assert.All(appends, m => Assert.Equal(50, m.Entries.Count));
        cluster.Stabilize();
        Assert.All(cluster.Nodes.Values, n => Assert.Equal(leader.Status.LastIndex, n.Status.Commit));
    }

    [Fact]
    public void A_follower_behind_the_leaders_compacted_log_is_caught_up_by_snapshot()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Isolate(3);
        for (var i = 0; i < 20; i++)
        {
            cluster.Propose(1, $"entry {i}");
        }

        var applied = leader.AppliedIndex;
        leader.Storage.CreateSnapshot(applied, leader.Status.Config, "checkpoint"u8.ToArray());
        cluster.Heal();
        cluster.TickAll(3);

        var follower = cluster[3];
        Assert.Contains(cluster.Sent, m => m.Type == RaftMessageType.InstallSnapshot && m.To == 3);
        Assert.Equal(applied, follower.Storage.Snapshot.Index);
        Assert.Equal("checkpoint"u8.ToArray(), follower.Storage.GetSnapshot().Data.ToArray());
        Assert.Equal(leader.Status.Commit, follower.Status.Commit);

        cluster.Propose(1, "after snapshot");
        Assert.Equal(leader.Status.Commit, follower.Status.Commit);
        Assert.Equal(leader.Status.LastIndex, follower.Status.LastIndex);
    }

    [Fact]
    public void A_restarted_node_recovers_its_term_vote_and_log_from_storage()
    {
        var cluster = new TestCluster(3);
        cluster.Elect(1);
        cluster.Propose(1, "a");
        var before = cluster[2].Status;

        cluster[2].Restart();
        cluster.ProcessReadies();

        var after = cluster[2].Status;
        Assert.Equal(before.Term, after.Term);
        Assert.Equal(before.Vote, after.Vote);
        Assert.Equal(before.LastIndex, after.LastIndex);
        Assert.Equal(before.Commit, after.Commit);
        Assert.Equal(before.Commit, cluster[2].AppliedIndex);
    }

    [Fact]
    public void A_follower_that_lost_its_log_after_acknowledging_entries_is_caught_up_again_by_snapshot()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        for (var i = 0; i < 20; i++)
        {
            cluster.Propose(1, $"entry {i}");
        }

        var applied = leader.AppliedIndex;
        Assert.Equal(leader.Status.LastIndex, cluster[3].Status.LastIndex);
        leader.Storage.CreateSnapshot(applied, leader.Status.Config, "checkpoint"u8.ToArray());

        // Node 3's data directory is wiped: it comes back with no log, no term and no configuration.
        LogBuilder.Replace(cluster, 3, new MemoryRaftLogStorage());
        cluster.Propose(1, "after the wipe");
        cluster.TickAll(3);

        var follower = cluster[3];
        Assert.Contains(cluster.Sent, m => m.Type == RaftMessageType.InstallSnapshot && m.To == 3);
        Assert.Equal(applied, follower.Storage.Snapshot.Index);
        Assert.Equal(leader.Status.LastIndex, follower.Status.LastIndex);
        Assert.Equal(leader.Status.Commit, follower.Status.Commit);
    }
}
