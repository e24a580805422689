namespace WalrusGossip.Raft;

/// <summary>Outcome of a proposal.</summary>
public enum ProposalStatus
{
    /// <summary>Appended to the leader's log; commitment is reported later through <see cref="Ready.CommittedEntries"/>.</summary>
    Accepted = 0,

    /// <summary>This node is not the leader; forward to <see cref="RaftStatus.Leader"/>.</summary>
    NotLeader = 1,

    /// <summary>A leadership transfer is in progress; retry after it completes or times out (dissertation §3.10).</summary>
    TransferInProgress = 2,

    /// <summary>The payload exceeds <see cref="RaftOptions.MaxEntryPayloadBytes"/>.</summary>
    TooLarge = 3,

    /// <summary>Uncommitted entries exceed <see cref="RaftOptions.MaxUncommittedBytes"/>; back off and retry.</summary>
    Overloaded = 4,

    /// <summary>
    /// A membership change was refused: another change is not yet committed, this leader has not yet committed
    /// an entry of its term (dissertation §4.1 and the 2015 single-server fix), or the change is invalid.
    /// </summary>
    ConfigChangeRefused = 5,
}

/// <summary>The result of <see cref="RaftNode.Propose"/> and related calls.</summary>
/// <param name="Status">Whether the proposal was accepted.</param>
/// <param name="Index">When accepted: the index of the last entry appended; otherwise 0.</param>
/// <param name="Term">When accepted: the term the entries were appended in; otherwise 0.</param>
public readonly record struct ProposalResult(ProposalStatus Status, ulong Index, ulong Term)
{
    /// <summary>True when <see cref="Status"/> is <see cref="ProposalStatus.Accepted"/>.</summary>
    public bool IsAccepted => Status == ProposalStatus.Accepted;

    internal static ProposalResult Refused(ProposalStatus status) => new(status, 0, 0);
}
