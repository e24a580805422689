using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

/// <summary>
/// The Ready's lifetime contract (issue 21): its spans are views of buffers the node reuses, valid and unchanged from
/// GetReady until Advance, empty after it; messages, their entries included, never change once created.
/// </summary>
public sealed class ReadyLifetimeTests
{
    [Fact]
    public void A_followers_Ready_keeps_showing_its_entries_when_a_new_leader_truncates_them_before_Advance()
    {
        var storage = MemoryRaftLogStorage.Bootstrap(ClusterConfig.Create([1, 2, 3]));
        var node = new RaftNode(new RaftOptions { Id = 2, Random = new SeededRaftRandom(2) }, storage);
        node.Step(Append(from: 1, term: 1, index: 1, logTerm: 1, (2, 1, "a"), (3, 1, "b"), (4, 1, "c")));

        var ready = node.GetReady();
        var shown = ready.Entries.ToArray();
        var messages = ready.Messages.ToArray();
        Assert.Equal([2UL, 3, 4], shown.Select(e => e.Index));

        // While the Ready is being handled, a leader of term 2 replaces entries 3 and 4 (paper §5.3): the unstable log
        // is cut below what the Ready lent, and written again.
        node.Step(Append(from: 3, term: 2, index: 2, logTerm: 1, (3, 2, "x"), (4, 2, "y"), (5, 2, "z")));

        Assert.True(SameContent(ready.Entries, shown), "the lent entries changed before Advance");
        Assert.Equal(messages, ready.Messages.ToArray());
        storage.Append(ready.Entries);
        node.Advance(ready);

        Assert.True(ready.Entries.IsEmpty);
        Assert.True(ready.Messages.IsEmpty);
        var next = node.GetReady();
        Assert.Equal([(2UL, 1UL), (3, 2), (4, 2), (5, 2)], next.Entries.ToArray().Select(e => (e.Index, e.Term)));
        Assert.Equal("x", System.Text.Encoding.UTF8.GetString(next.Entries[1].Payload.Span));
        Assert.Contains(next.Messages.ToArray(), m => m.Type == RaftMessageType.AppendResponse && m.To == 3 && m.Index == 5);
        storage.Append(next.Entries);
        node.Advance(next);
        Assert.Equal(5UL, storage.LastIndex);
    }

    [Fact]
    public void Proposals_made_while_a_leaders_Ready_is_handled_neither_change_it_nor_get_lost()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Stabilize();
        var first = leader.Raft.Propose("p0"u8.ToArray()).Index;
        var ready = leader.Raft.GetReady();
        var shown = ready.Entries.ToArray();

        // Enough proposals to outgrow the unstable buffer while its start is lent.
        for (var i = 1; i <= 100; i++)
        {
            Assert.True(leader.Raft.Propose(System.Text.Encoding.UTF8.GetBytes($"p{i}")).IsAccepted);
        }

        Assert.True(SameContent(ready.Entries, shown));
        Assert.Equal(first, Assert.Single(shown).Index);
        cluster.Queue.AddRange(ready.Messages.ToArray());
        leader.Storage.Append(ready.Entries);
        leader.Raft.Advance(ready);
        cluster.Stabilize();

        Assert.Equal(first + 100, leader.Status.Commit);
        for (var i = 0; i <= 100; i++)
        {
            Assert.Equal($"p{i}", System.Text.Encoding.UTF8.GetString(leader.Applied[first + (ulong)i].Payload.Span));
        }
    }

    [Fact]
    public void Lent_entries_stay_unchanged_however_the_unstable_log_grows_and_shifts_meanwhile()
    {
        // A leader whose followers never answer: every Ready lends its unstable entries, and proposals made before
        // Advance land behind them, in many shapes of the reused buffer (full, half empty, with a stable prefix).
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Stabilize();
        cluster.Isolate(1);
        var before = leader.Storage.LastIndex;
        var random = new Random(21);
        var proposed = 0;
        for (var round = 0; round < 300; round++)
        {
            for (var i = random.Next(0, 20); i > 0; i--)
            {
                leader.Raft.Propose(System.Text.Encoding.UTF8.GetBytes($"v{proposed++}"));
            }

            if (!leader.Raft.HasReady)
            {
                continue;
            }

            var ready = leader.Raft.GetReady();
            var shown = ready.Entries.ToArray();
            for (var i = random.Next(0, 40); i > 0; i--)
            {
                leader.Raft.Propose(System.Text.Encoding.UTF8.GetBytes($"v{proposed++}"));
            }

            Assert.True(SameContent(ready.Entries, shown), $"round {round}: the lent entries changed before Advance");
            leader.Storage.Append(ready.Entries);
            leader.Raft.Advance(ready);
        }

        var last = leader.Raft.GetReady();
        leader.Storage.Append(last.Entries);
        leader.Raft.Advance(last);
        Assert.Equal(before + (ulong)proposed, leader.Storage.LastIndex);
        Assert.Equal($"v{proposed - 1}", System.Text.Encoding.UTF8.GetString(leader.Storage.Entries(leader.Storage.LastIndex, leader.Storage.LastIndex + 1, ulong.MaxValue)[0].Payload.Span));
    }

    [Fact]
    public void AppendEntries_messages_keep_their_entries_after_the_leader_moves_on()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Stabilize();
        for (var i = 0; i < 5; i++)
        {
            leader.Raft.Propose(System.Text.Encoding.UTF8.GetBytes($"e{i}"));
        }

        // Hold every message the leader's Ready sends; let the cluster run on (more proposals, commits, applies).
        var ready = leader.Raft.GetReady();
        var appends = ready.Messages.ToArray().Where(m => m.Type == RaftMessageType.Append && m.Entries.Count > 0).ToList();
        var copies = appends.Select(m => m.Entries.ToArray()).ToList();
        cluster.Queue.AddRange(ready.Messages.ToArray());
        leader.Storage.Append(ready.Entries);
        leader.Raft.Advance(ready);
        for (var round = 0; round < 20; round++)
        {
            leader.Raft.Propose(System.Text.Encoding.UTF8.GetBytes($"later{round}"));
            cluster.Stabilize();
        }

        Assert.Equal(2, appends.Count);
        for (var i = 0; i < appends.Count; i++)
        {
            Assert.Equal(5, appends[i].Entries.Count);
            Assert.True(SameContent([.. appends[i].Entries], copies[i]), $"the append to {appends[i].To} changed");
        }
    }

    [Fact]
    public void Every_Ready_of_a_node_is_the_same_object_and_Advance_empties_it()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Stabilize();
        var index = leader.Raft.Propose("x"u8.ToArray()).Index;
        var ready = leader.Raft.GetReady();
        Assert.False(ready.Entries.IsEmpty);
        cluster.Queue.AddRange(ready.Messages.ToArray());
        leader.Storage.Append(ready.Entries);
        leader.Raft.Advance(ready);

        Assert.True(ready.Entries.IsEmpty && ready.CommittedEntries.IsEmpty && ready.Messages.IsEmpty && ready.ReadStates.IsEmpty);
        Assert.Throws<InvalidOperationException>(() => leader.Raft.Advance(ready));
        cluster.Stabilize();
        Assert.Equal(index, leader.AppliedIndex);
        leader.Raft.Propose("y"u8.ToArray());
        Assert.Same(ready, leader.Raft.GetReady());
    }

    private static bool SameContent(ReadOnlySpan<LogEntry> actual, LogEntry[] expected)
    {
        if (actual.Length != expected.Length)
        {
            return false;
        }

        for (var i = 0; i < expected.Length; i++)
        {
            if (!actual[i].ContentEquals(expected[i]))
            {
                return false;
            }
        }

        return true;
    }

    private static RaftMessage Append(ulong from, ulong term, ulong index, ulong logTerm, params (ulong Index, ulong Term, string Text)[] entries) => new()
    {
        Type = RaftMessageType.Append,
        From = from,
        To = 2,
        Term = term,
        Index = index,
        LogTerm = logTerm,
        Commit = 1,
        Entries = [.. entries.Select(e => new LogEntry(e.Index, e.Term, EntryType.Normal, System.Text.Encoding.UTF8.GetBytes(e.Text)))],
    };
}
