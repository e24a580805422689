using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>What comparing one peer's hash of a committed range with the leader's found.</summary>
public enum ReplicaVerdict
{
    /// <summary>Equal hashes.</summary>
    Match,

    /// <summary>Different hashes: the two replicas hold different committed entries, so one of them is corrupt.</summary>
    Mismatch,

    /// <summary>Not compared: the peer has not replicated the range yet, or one side compacted it or holds it damaged.</summary>
    Unavailable,

    /// <summary>The peer did not answer within 5 s.</summary>
    NoAnswer,
}

/// <summary>One peer's line of a <see cref="ConsistencyCheckReport"/>.</summary>
/// <param name="NodeId">The peer.</param>
/// <param name="Verdict">What the comparison found.</param>
/// <param name="FirstIndex">First index compared (0 when none).</param>
/// <param name="LastIndex">Last index compared, inclusive (0 when none).</param>
/// <param name="LeaderHash">The leader's 64-bit XxHash3 of the range.</param>
/// <param name="PeerHash">The peer's 64-bit XxHash3 of the range.</param>
/// <param name="Detail">Human-readable detail.</param>
public sealed record ReplicaComparison(ulong NodeId, ReplicaVerdict Verdict, ulong FirstIndex, ulong LastIndex, ulong LeaderHash, ulong PeerHash, string Detail);

/// <summary>The answer to <see cref="WalrusClient.CheckConsistencyAsync"/>.</summary>
/// <param name="LeaderId">The leader that ran the check.</param>
/// <param name="FirstIndex">First committed index the check asked for.</param>
/// <param name="LastIndex">Last committed index the check asked for (inclusive).</param>
/// <param name="Peers">One line per other member, ascending by node id.</param>
public sealed record ConsistencyCheckReport(ulong LeaderId, ulong FirstIndex, ulong LastIndex, IReadOnlyList<ReplicaComparison> Peers)
{
    /// <summary>True when at least one peer's hash differed from the leader's.</summary>
    public bool HasMismatch => Peers.Any(p => p.Verdict == ReplicaVerdict.Mismatch);
}

public sealed partial class WalrusClient
{
    /// <summary>
    /// Asks the leader to compare a hash (XxHash3, 64-bit, over each entry's index, term, type and payload) of committed
    /// entries with every other member now, as etcd's corruption check does, and returns each peer's verdict. The range
    /// is [<paramref name="firstIndex"/>, <paramref name="lastIndex"/>] clipped to what is committed and retained, or,
    /// with both 0, the last <c>Cluster:ConsistencyCheckEntries</c> committed entries. Completes once every peer
    /// answered or 5 s passed.
    /// </summary>
    /// <param name="firstIndex">First index, or 0 (with <paramref name="lastIndex"/> 0) for the default range.</param>
    /// <param name="lastIndex">Last index, inclusive; at most 65,536 entries from <paramref name="firstIndex"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The report.</returns>
    /// <exception cref="WalrusInvalidArgumentException">The range is not valid (one bound 0, first above last, or more than 65,536 entries).</exception>
    /// <exception cref="WalrusException">No leader answered after all retries.</exception>
    public async Task<ConsistencyCheckReport> CheckConsistencyAsync(ulong firstIndex = 0, ulong lastIndex = 0, CancellationToken cancellationToken = default)
    {
        var (response, _) = await ExecuteAsync(MessageType.ConsistencyCheckRequest,
            new ConsistencyCheckRequest { FirstIndex = firstIndex, LastIndex = lastIndex }, cancellationToken).ConfigureAwait(false);
        var r = (ConsistencyCheckResponse)response;
        return new ConsistencyCheckReport(r.LeaderId, r.FirstIndex, r.LastIndex, [.. r.Peers.Select(p => new ReplicaComparison(
            p.NodeId,
            p.Verdict switch
            {
                ConsistencyVerdict.Match => ReplicaVerdict.Match,
                ConsistencyVerdict.Mismatch => ReplicaVerdict.Mismatch,
                ConsistencyVerdict.Unavailable => ReplicaVerdict.Unavailable,
                _ => ReplicaVerdict.NoAnswer,
            },
            p.FirstIndex,
            p.LastIndex,
            p.LeaderHash,
            p.PeerHash,
            p.Detail))]);
    }
}
