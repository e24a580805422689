using System.Text;

namespace WalrusGossip.Raft.Tests.Support;

/// <summary>Builds node storages with hand-written logs, as in the paper's figures.</summary>
internal static class LogBuilder
{
    /// <summary>
    /// A storage whose log holds the bootstrap configuration at index 1 (term 1) followed by one entry per
    /// element of <paramref name="terms"/> (indexes 2, 3, ...). Equal (index, term) pairs get equal payloads.
    /// </summary>
    public static MemoryRaftLogStorage Storage(ClusterConfig config, ulong currentTerm, params ulong[] terms)
    {
        var storage = MemoryRaftLogStorage.Bootstrap(config);
        var entries = new List<LogEntry>();
        for (var i = 0; i < terms.Length; i++)
        {
            var index = (ulong)i + 2;
            entries.Add(new LogEntry(index, terms[i], EntryType.Normal, Encoding.UTF8.GetBytes($"{index}@{terms[i]}")));
        }

        storage.Append(entries);
        storage.SetHardState(new HardState(currentTerm, 0, 1));
        return storage;
    }

    public static void Replace(TestCluster cluster, ulong id, MemoryRaftLogStorage storage) =>
        cluster.Nodes[id] = new TestNode(id, storage, cluster.OptionsFor);

    public static ulong[] Terms(TestNode node)
    {
        var log = node.Raft.Log;
        return (log.Slice(log.FirstIndex, log.LastIndex + 1, ulong.MaxValue) ?? []).Select(e => e.Term).ToArray();
    }
}
