using Microsoft.Extensions.Logging;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>The answer to <see cref="WalrusNode.ChangeSecurity"/>.</summary>
/// <param name="Status">Ok once the change is applied on the leader; NotLeader, InvalidArgument or Retry otherwise.</param>
/// <param name="Index">Log index of the change (0 when refused).</param>
/// <param name="LeaderId">The leader to retry at, when known.</param>
/// <param name="Message">Why it was refused, or empty.</param>
/// <param name="Policy">The policy as of the answer.</param>
public sealed record SecurityChangeResult(RequestStatus Status, ulong Index, ulong LeaderId, string Message, SecurityPolicy Policy);

public sealed partial class WalrusNode
{
    private readonly List<(ulong Index, ulong Term, SecurityChange Change, Action<SecurityChangeResult> Done)> _pendingSecurityChanges = [];

    /// <summary>
    /// The replicated authorization state as of this node's applied index (immutable; safe to read from any thread).
    /// Every agent enforces the policy it has applied, so a change is in force on an agent once it has applied it.
    /// </summary>
    public SecurityPolicy SecurityPolicy => _stateMachine.Security;

    /// <summary>Security changes this node proposed as leader since start.</summary>
    public long SecurityChangesProposed { get; private set; }

    /// <summary>
    /// Proposes a change of roles, tokens or grants as one <see cref="EntryType.Security"/> entry; on the node loop,
    /// leader only. <paramref name="done"/> runs on the loop once the entry is applied here (Ok), or when it is refused
    /// or lost to a leader change (Retry: proposing it again is harmless, every change is idempotent).
    /// </summary>
    /// <param name="change">The change; <see cref="SecurityChange.Validate"/> must pass.</param>
    /// <param name="done">Receives the outcome.</param>
    public void ChangeSecurity(SecurityChange change, Action<SecurityChangeResult> done)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(done);
        var status = Raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            done(new SecurityChangeResult(RequestStatus.NotLeader, 0, status.Leader, "send the request to the leader", SecurityPolicy));
            return;
        }

        if (change.Validate() is { } invalid)
        {
            done(new SecurityChangeResult(RequestStatus.InvalidArgument, 0, Id, invalid, SecurityPolicy));
            return;
        }

        if (change is { Kind: SecurityChangeKind.PutRole or SecurityChangeKind.DeleteRole, Name: SecurityPolicy.AdminRole })
        {
            done(new SecurityChangeResult(RequestStatus.InvalidArgument, 0, Id, "the admin role is built in and cannot be changed", SecurityPolicy));
            return;
        }

        var result = Raft.Propose(change.Encode(), EntryType.Security);
        if (result.Status != ProposalStatus.Accepted)
        {
            done(new SecurityChangeResult(RequestStatus.Retry, 0, Id, $"the leader cannot take the change now ({result.Status}); retry", SecurityPolicy));
            return;
        }

        SecurityChangesProposed++;
        _pendingSecurityChanges.Add((result.Index, result.Term, change, done));
        LogSecurityChange(_logger, change.Kind, change.Name, result.Index);
        ProcessReady();
    }

    /// <summary>After entries were applied: answers security changes whose entry is applied (or was replaced by a leader change).</summary>
    private void CompleteSecurityChanges()
    {
        for (var i = _pendingSecurityChanges.Count - 1; i >= 0; i--)
        {
            var (index, term, _, done) = _pendingSecurityChanges[i];
            if (index > _applied)
            {
                continue;
            }

            _pendingSecurityChanges.RemoveAt(i);
            done(_raftLog!.TryGetTerm(index, out var held) && held == term
                ? new SecurityChangeResult(RequestStatus.Ok, index, Id, "", SecurityPolicy)
                : new SecurityChangeResult(RequestStatus.Retry, 0, Raft.Status.Leader, "the change was lost to a leader change; retry", SecurityPolicy));
        }
    }

    [LoggerMessage(EventId = 90, Level = LogLevel.Information, Message = "security: proposed {Kind} {Name} at index {Index}")]
    private static partial void LogSecurityChange(ILogger logger, SecurityChangeKind kind, string name, ulong index);
}
