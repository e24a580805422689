using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node.Recovery;

/// <summary>What <see cref="ForceNewCluster.Run"/> did to a data directory.</summary>
/// <param name="NodeId">The node that is now the only voter.</param>
/// <param name="PreviousConfig">The configuration the log held before (its last configuration entry, or the checkpoint's).</param>
/// <param name="PreviousCommit">The commit index the hard state recorded before.</param>
/// <param name="LastIndex">The last entry the log held before; every entry up to it is kept and becomes committed.</param>
/// <param name="ConfigIndex">Index of the appended one-voter configuration entry (<paramref name="LastIndex"/> + 1).</param>
/// <param name="Term">Term of that entry and of the new hard state.</param>
public sealed record ForceNewClusterResult(ulong NodeId, ClusterConfig PreviousConfig, ulong PreviousCommit, ulong LastIndex, ulong ConfigIndex, ulong Term);

/// <summary>A data directory cannot be recovered as a new cluster (nothing to recover, or not this node's).</summary>
public sealed class RecoveryRefusedException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why.</param>
    public RecoveryRefusedException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public RecoveryRefusedException() : this("recovery refused") { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">Why.</param>
    /// <param name="inner">The cause.</param>
    public RecoveryRefusedException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>
/// Lost-quorum recovery (etcd's <c>--force-new-cluster</c>): turns a stopped node's data directory into a one-voter
/// cluster of that node, keeping every entry of its log. It appends one configuration entry (voters = this node, no
/// learners) after the last entry, in a term above every term the directory has seen, and saves a hard state with that
/// term, a vote for itself and the commit index at the new entry, so every entry the node held — the ones it knew
/// committed and the ones it did not — is committed when it starts. Nothing is deleted. This breaks Raft's guarantees
/// on purpose: entries the lost majority committed that this node never received are gone, and its uncommitted
/// entries become committed. Run it only on the most up-to-date survivor when a quorum is lost for good; the other
/// hosts must be wiped and rejoin as new members (docs/operations.md).
/// </summary>
public static class ForceNewCluster
{
    /// <summary>Rewrites the data directory as described on <see cref="ForceNewCluster"/>. The agent must be stopped (the directory lock is taken).</summary>
    /// <param name="device">Storage device.</param>
    /// <param name="dataDirectory">The agent's data directory.</param>
    /// <param name="nodeId">This node's id; non-zero.</param>
    /// <param name="storage">Storage options (segment and entry sizes as the agent runs them).</param>
    /// <returns>What changed.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nodeId"/> is 0.</exception>
    /// <exception cref="RecoveryRefusedException">The log is empty (nothing to recover: start the agent normally), or
    /// the node was removed from its cluster by an operator (a removed node's log is not the cluster's).</exception>
    /// <exception cref="DataDirectoryException">The directory is unusable or locked by a running agent.</exception>
    /// <exception cref="LogCorruptionException">Recovery of the store found corruption.</exception>
    public static ForceNewClusterResult Run(IStorageDevice device, string dataDirectory, ulong nodeId, StorageOptions storage)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentOutOfRangeException.ThrowIfZero(nodeId);
        using var store = NodeStorage.Open(device, dataDirectory, storage);
        var log = store.Log;
        if (log.LastIndex == 0 || (log.LastIndex < log.FirstIndex && store.LatestCheckpoint is null))
        {
            throw new RecoveryRefusedException($"{dataDirectory} holds no log: there is nothing to recover (start the agent to join or bootstrap a cluster)");
        }

        if (store.ReadRemoval() is { } removedAt)
        {
            throw new RecoveryRefusedException($"{dataDirectory} belongs to a node an operator removed from its cluster (configuration entry {removedAt}); recover from another survivor");
        }

        var hardState = store.HardState.Load();
        var last = log.LastIndex;
        var lastTerm = last >= log.FirstIndex ? log.TermAt(last) : store.LatestCheckpoint!.Term;
        var previous = FindConfig(store);
        var term = Math.Max(hardState.Term, lastTerm) + 1;
        var config = ClusterConfig.Create([nodeId]);
        var entry = new LogEntry(last + 1, term, EntryType.ConfigChange, config.Encode());
        log.AppendBatchAsync([entry]).AsTask().GetAwaiter().GetResult();
        store.HardState.Save(new HardState(term, nodeId, last + 1));
        return new ForceNewClusterResult(nodeId, previous, hardState.Commit, last, last + 1, term);
    }

    /// <summary>The newest configuration entry in the retained log, else the checkpoint's configuration, else empty.</summary>
    private static ClusterConfig FindConfig(NodeStorage store)
    {
        var log = store.Log;
        var entries = new List<LogEntry>();
        var config = store.LatestCheckpoint is { } checkpoint && ClusterConfig.TryDecode(checkpoint.Configuration.Span, out var saved) ? saved! : ClusterConfig.Empty;
        for (var next = log.FirstIndex; next <= log.LastIndex;)
        {
            entries.Clear();
            log.ReadRange(next, 4096, 8 << 20, entries);
            if (entries.Count == 0)
            {
                break;
            }

            foreach (var e in entries)
            {
                if (e.Type == EntryType.ConfigChange && ClusterConfig.TryDecode(e.Payload.Span, out var decoded))
                {
                    config = decoded!;
                }
            }

            next = entries[^1].Index + 1;
        }

        return config;
    }
}
