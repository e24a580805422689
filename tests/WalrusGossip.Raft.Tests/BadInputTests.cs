using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class BadInputTests
{
    private static (TestCluster Cluster, TestNode Leader) Running()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "a");
        cluster.Propose(1, "b");
        return (cluster, leader);
    }

    [Fact]
    public void Responses_from_unknown_nodes_are_ignored()
    {
        var (cluster, leader) = Running();
        var before = leader.Status;
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.AppendResponse, From = 99, To = 1, Term = before.Term, Index = 1000 });
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.HeartbeatResponse, From = 99, To = 1, Term = before.Term, Context = "x"u8.ToArray() });
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.ReadIndex, From = 99, To = 1, Term = before.Term, Context = "x"u8.ToArray() });
        cluster.ProcessReadies();
        Assert.Equal(before, leader.Status);
    }

    [Fact]
    public void Messages_for_another_node_from_id_zero_from_itself_or_of_unknown_type_are_ignored()
    {
        var (cluster, leader) = Running();
        var before = leader.Status;
        var term = before.Term + 10;
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 2, To = 3, Term = term });
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 0, To = 1, Term = term });
        leader.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 1, Term = term });
        leader.Raft.Step(new RaftMessage { Type = (RaftMessageType)77, From = 2, To = 1, Term = term });
        cluster.ProcessReadies();
        Assert.Equal(before, leader.Status);
    }

    [Fact]
    public void Stale_term_messages_change_nothing_and_tell_the_sender_the_current_term()
    {
        var (cluster, _) = Running();
        var follower = cluster[2];
        var before = follower.Status;
        cluster.Queue.Clear();

        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 3, To = 2, Term = before.Term - 1, Index = before.LastIndex, LogTerm = 1, Commit = 100 });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Vote, From = 3, To = 2, Term = before.Term - 1, Index = 1000, LogTerm = 1000 });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = 3, To = 2, Term = 0 });
        cluster.ProcessReady(follower);

        Assert.Equal(before, follower.Status);
        var answer = Assert.Single(cluster.Queue);
        Assert.Equal(RaftMessageType.AppendResponse, answer.Type);
        Assert.Equal(before.Term, answer.Term);
    }

    [Fact]
    public void An_append_beyond_the_log_is_rejected_with_a_hint_and_changes_nothing()
    {
        var (cluster, leader) = Running();
        var follower = cluster[2];
        var before = follower.Status;
        cluster.Queue.Clear();

        follower.Raft.Step(new RaftMessage
        {
            Type = RaftMessageType.Append, From = 1, To = 2, Term = before.Term, Index = 500, LogTerm = before.Term,
            Entries = [new LogEntry(501, before.Term, EntryType.Normal, new byte[] { 1 })], Commit = 501,
        });
        cluster.ProcessReady(follower);

        Assert.Equal(before, follower.Status);
        var answer = Assert.Single(cluster.Queue);
        Assert.True(answer.Reject);
        Assert.Equal(before.LastIndex, answer.RejectHint);
        Assert.Equal(leader.Status.Term, answer.LogTerm);
    }

    [Fact]
    public void Malformed_appends_are_ignored()
    {
        var (cluster, _) = Running();
        var follower = cluster[2];
        var before = follower.Status;
        var term = before.Term;
        var last = before.LastIndex;

        // Gap in indexes, terms going backwards, term above the sender's, term zero, null entries.
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = [new LogEntry(last + 2, term, EntryType.Normal, default)] });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = [new LogEntry(last + 1, term - 1, EntryType.Normal, default)] });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = [new LogEntry(last + 1, term + 1, EntryType.Normal, default)] });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = 0, LogTerm = 0, Entries = [new LogEntry(1, 0, EntryType.Normal, default)] });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = ulong.MaxValue, LogTerm = term, Entries = [new LogEntry(0, term, EntryType.Normal, default)] });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = last, LogTerm = term, Entries = null! });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.Heartbeat, From = 1, To = 2, Term = term, Commit = ulong.MaxValue });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = 1, To = 2, Term = term, Snapshot = null });
        follower.Raft.Step(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = 1, To = 2, Term = term, Snapshot = new RaftSnapshot(new SnapshotMetadata(50, term, ClusterConfig.Empty), default) });
        cluster.ProcessReady(follower);

        Assert.Equal(before.LastIndex, follower.Status.LastIndex);
        Assert.Equal(before.Commit, follower.Status.Commit);
        Assert.Equal(before.Config.Voters, follower.Status.Config.Voters);
    }

    [Fact]
    public void A_malformed_configuration_entry_is_replicated_but_changes_no_membership()
    {
        var (cluster, leader) = Running();
        var follower = cluster[2];
        var term = leader.Status.Term;
        var last = follower.Status.LastIndex;

        follower.Raft.Step(new RaftMessage
        {
            Type = RaftMessageType.Append, From = 1, To = 2, Term = term, Index = last, LogTerm = term,
            Entries = [new LogEntry(last + 1, term, EntryType.ConfigChange, new byte[] { 1, 2, 3 })],
        });
        cluster.ProcessReady(follower);

        Assert.Equal(last + 1, follower.Status.LastIndex);
        Assert.Equal([1UL, 2, 3], follower.Status.Config.Voters);
    }

    [Fact]
    public void Configuration_payloads_that_do_not_decode_are_rejected()
    {
        Assert.False(ClusterConfig.TryDecode([], out _));
        Assert.False(ClusterConfig.TryDecode([0, 0, 0, 0], out _)); // no voter
        Assert.False(ClusterConfig.TryDecode([1, 0, 0, 0, 1], out _)); // truncated id
        Assert.False(ClusterConfig.TryDecode([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], out _)); // id 0
        var duplicate = new byte[4 + 16];
        duplicate[0] = 2;
        duplicate[4] = 7;
        duplicate[12] = 7;
        Assert.False(ClusterConfig.TryDecode(duplicate, out _));

        var config = ClusterConfig.Create([3, 1, 2], [9]);
        Assert.True(ClusterConfig.TryDecode(config.Encode(), out var decoded));
        Assert.Equal([1UL, 2, 3], decoded!.Voters);
        Assert.Equal([9UL], decoded.Learners);
    }

    [Fact]
    public void Random_garbage_messages_never_throw_out_of_Step()
    {
        var (cluster, _) = Running();
        var random = new SeededRaftRandom(42);
        var types = Enum.GetValues<RaftMessageType>();
        for (var i = 0; i < 20_000; i++)
        {
            var target = cluster[(ulong)random.Next(3) + 1];
            var status = target.Status;
            var index = (ulong)random.Next((int)status.LastIndex + 3);
            var term = (ulong)random.Next((int)status.Term + 1);
            var message = new RaftMessage
            {
                Type = random.Next(20) == 0 ? (RaftMessageType)random.Next(100) : types[random.Next(types.Length)],
                From = (ulong)random.Next(6),
                To = target.Id,
                Term = random.Next(10) == 0 ? status.Term + 1 : term,
                Index = random.Next(50) == 0 ? ulong.MaxValue : index,
                LogTerm = (ulong)random.Next((int)status.Term + 2),
                Commit = (ulong)random.Next((int)status.Commit + 1),
                Reject = random.Next(2) == 0,
                RejectHint = (ulong)random.Next((int)status.LastIndex + 2),
                Transfer = random.Next(10) == 0,
                Context = random.Next(3) == 0 ? new byte[] { (byte)random.Next(4) } : default,
            };

            target.Raft.Step(message);
            cluster.ProcessReady(target);
            cluster.Queue.Clear();
        }
    }

    [Fact]
    public void Misusing_the_Ready_protocol_is_an_argument_or_operation_error()
    {
        var (_, leader) = Running();
        leader.Raft.Propose("x"u8.ToArray());
        var ready = leader.Raft.GetReady();
        Assert.False(leader.Raft.HasReady);
        Assert.Throws<InvalidOperationException>(() => leader.Raft.GetReady());
        leader.Raft.Advance(ready);
        Assert.Throws<InvalidOperationException>(() => leader.Raft.Advance(ready));
        Assert.Throws<ArgumentException>(() => leader.Raft.Propose(default, EntryType.ConfigChange));
        Assert.Throws<ArgumentException>(() => leader.Raft.ReadIndex(default));
    }

    [Fact]
    public void Inconsistent_persisted_state_is_an_invariant_violation()
    {
        var storage = MemoryRaftLogStorage.Bootstrap(ClusterConfig.Create([1]));
        storage.SetHardState(new HardState(1, 0, 5));
        Assert.Throws<RaftInvariantViolationException>(() => new RaftNode(new RaftOptions { Id = 1, Random = new SeededRaftRandom(1) }, storage));
    }
}
