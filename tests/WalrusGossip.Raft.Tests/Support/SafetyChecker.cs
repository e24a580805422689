namespace WalrusGossip.Raft.Tests.Support;

/// <summary>
/// Checks Raft's safety properties (paper Figure 3) across a cluster after every step: election safety,
/// log matching, leader completeness, state machine safety, and that committed entries stay durable on a quorum.
/// </summary>
internal sealed class SafetyChecker
{
    private readonly Dictionary<ulong, ulong> _leaderByTerm = [];
    private readonly Dictionary<ulong, LogEntry> _committed = [];
    private readonly Dictionary<ulong, ulong> _committedBeforeTerm = [];
    private readonly int _durableQuorum;

    public SafetyChecker(int durableQuorum) => _durableQuorum = durableQuorum;

    public int CommittedCount => _committed.Count;

    public ulong MaxCommitted { get; private set; }

    public void Check(TestCluster cluster, string where)
    {
        var logs = new Dictionary<ulong, (ulong First, IReadOnlyList<LogEntry> Entries)>();
        var maxTerm = cluster.Nodes.Values.Max(n => n.Status.Term);
        foreach (var node in cluster.Nodes.Values)
        {
            var log = node.Raft.Log;
            var first = log.FirstIndex;
            logs[node.Id] = (first, log.Slice(first, log.LastIndex + 1, ulong.MaxValue) ?? []);
        }

        foreach (var node in cluster.Nodes.Values)
        {
            var status = node.Status;
            if (status.Role == RaftRole.Leader)
            {
                if (_leaderByTerm.TryGetValue(status.Term, out var other) && other != node.Id)
                {
                    Fail(where, $"two leaders in term {status.Term}: {other} and {node.Id}");
                }

                _leaderByTerm[status.Term] = node.Id;
            }

            var (first, entries) = logs[node.Id];
            for (var index = Math.Max(first, 1); index <= status.Commit; index++)
            {
                var entry = entries[(int)(index - first)];
                if (_committed.TryGetValue(index, out var known))
                {
                    if (!known.ContentEquals(entry))
                    {
                        Fail(where, $"node {node.Id} committed {entry} at {index} but {known} was committed before");
                    }
                }
                else
                {
                    _committed[index] = entry;
                    _committedBeforeTerm[index] = maxTerm;
                    MaxCommitted = Math.Max(MaxCommitted, index);
                }
            }

            foreach (var (index, applied) in node.Applied)
            {
                if (!_committed.TryGetValue(index, out var known))
                {
                    // Applied (so committed) and already compacted out of the node's log before a check saw it.
                    _committed[index] = applied;
                    _committedBeforeTerm[index] = maxTerm;
                    MaxCommitted = Math.Max(MaxCommitted, index);
                }
                else if (!known.ContentEquals(applied))
                {
                    Fail(where, $"node {node.Id} applied {applied} which is not the committed entry at {index}");
                }
            }
        }

        CheckLogMatching(logs, where);
        CheckLeaderCompleteness(cluster, logs, where);
        CheckDurability(cluster, where);
    }

    private static void CheckLogMatching(Dictionary<ulong, (ulong First, IReadOnlyList<LogEntry> Entries)> logs, string where)
    {
        var ids = logs.Keys.ToArray();
        for (var a = 0; a < ids.Length; a++)
        {
            for (var b = a + 1; b < ids.Length; b++)
            {
                var (firstA, entriesA) = logs[ids[a]];
                var (firstB, entriesB) = logs[ids[b]];
                var low = Math.Max(firstA, firstB);
                var high = Math.Min(firstA + (ulong)entriesA.Count, firstB + (ulong)entriesB.Count);
                var matched = false;
                for (var index = high; index-- > low;)
                {
                    var ea = entriesA[(int)(index - firstA)];
                    var eb = entriesB[(int)(index - firstB)];
                    if (!matched && ea.Term == eb.Term)
                    {
                        matched = true;
                    }

                    if (matched && !ea.ContentEquals(eb))
                    {
                        Fail(where, $"log matching broken between {ids[a]} and {ids[b]} at {index}: {ea} vs {eb}");
                    }
                }
            }
        }
    }

    private void CheckLeaderCompleteness(TestCluster cluster, Dictionary<ulong, (ulong First, IReadOnlyList<LogEntry> Entries)> logs, string where)
    {
        foreach (var node in cluster.Nodes.Values)
        {
            var status = node.Status;
            if (status.Role != RaftRole.Leader)
            {
                continue;
            }

            var (first, entries) = logs[node.Id];
            foreach (var (index, entry) in _committed)
            {
                if (status.Term <= _committedBeforeTerm[index] || index < first)
                {
                    continue;
                }

                var position = index - first;
                if (position >= (ulong)entries.Count || !entries[(int)position].ContentEquals(entry))
                {
                    Fail(where, $"leader {node.Id} of term {status.Term} lacks committed entry {entry}");
                }
            }
        }
    }

    private void CheckDurability(TestCluster cluster, string where)
    {
        foreach (var (index, entry) in _committed)
        {
            var holders = 0;
            foreach (var node in cluster.Nodes.Values)
            {
                var storage = node.Storage;
                if (storage.Snapshot.Index >= index || (storage.TryGetTerm(index, out var term) && term == entry.Term))
                {
                    holders++;
                }
            }

            if (holders < _durableQuorum)
            {
                Fail(where, $"committed entry {entry} is durable on only {holders} nodes");
            }
        }
    }

    private static void Fail(string where, string what) => throw new InvalidOperationException($"{where}: {what}");
}
