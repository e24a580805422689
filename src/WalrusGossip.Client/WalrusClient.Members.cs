using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>What an operator's membership change does (see <see cref="WalrusClient.ChangeMemberAsync"/>).</summary>
public enum MemberChange
{
    /// <summary>Promote a caught-up learner to voter.</summary>
    Promote,

    /// <summary>Demote a voter to learner (it keeps the log; autopilot leaves it a learner for 10 minutes).</summary>
    Demote,

    /// <summary>Remove a voter or learner; the removed agent is told and stops voting (wipe its data directory to rejoin).</summary>
    Remove,
}

/// <summary>The answer to <see cref="WalrusClient.ChangeMemberAsync"/>: the change is committed.</summary>
/// <param name="Index">Index of the committed configuration entry.</param>
/// <param name="LeaderId">The leader that made the change.</param>
/// <param name="Voters">Voters after the change, ascending.</param>
/// <param name="Learners">Learners after the change, ascending.</param>
/// <param name="Message">The agent's message.</param>
public sealed record MemberChangeResult(ulong Index, ulong LeaderId, IReadOnlyList<ulong> Voters, IReadOnlyList<ulong> Learners, string Message);

public sealed partial class WalrusClient
{
    /// <summary>
    /// Asks the leader for one single-server membership change (Raft dissertation §4.1) and completes once its
    /// configuration entry is committed. Changes go one at a time: while another is in flight the leader answers RETRY,
    /// and the request is retried like any other.
    /// </summary>
    /// <param name="change">Promote, demote or remove.</param>
    /// <param name="nodeId">The member; non-zero.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The committed configuration.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="change"/> is not defined or <paramref name="nodeId"/> is 0.</exception>
    /// <exception cref="WalrusInvalidArgumentException">The change does not apply (not a member, already a voter, the last voter, ...).</exception>
    /// <exception cref="WalrusException">No leader answered after all retries, or the change did not commit in time.</exception>
    public async Task<MemberChangeResult> ChangeMemberAsync(MemberChange change, ulong nodeId, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfZero(nodeId);
        var kind = change switch
        {
            MemberChange.Promote => MemberChangeKind.Promote,
            MemberChange.Demote => MemberChangeKind.Demote,
            MemberChange.Remove => MemberChangeKind.Remove,
            _ => throw new ArgumentOutOfRangeException(nameof(change), change, "unknown member change"),
        };
        var (response, _) = await ExecuteAsync(MessageType.MemberChangeRequest, new MemberChangeRequest { Kind = kind, NodeId = nodeId }, cancellationToken).ConfigureAwait(false);
        var r = (MemberChangeResponse)response;
        return new MemberChangeResult(r.Index, r.LeaderId, [.. r.Voters], [.. r.Learners], r.Message);
    }
}
