using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>Operator membership changes (walrusctl member promote|demote|remove), answered once committed.</summary>
public sealed partial class ClientService
{
    /// <summary>How long a member change may take to commit before the client is told TIMEOUT (it may still commit).</summary>
    private static readonly TimeSpan MemberChangeTimeout = TimeSpan.FromSeconds(10);

    private async Task MemberChangeAsync(IFrameConnection connection, MemberChangeRequest request)
    {
        var type = request.Kind switch
        {
            MemberChangeKind.Promote => ConfigChangeType.AddVoter,
            MemberChangeKind.Demote => ConfigChangeType.Demote,
            MemberChangeKind.Remove => ConfigChangeType.Remove,
            _ => (ConfigChangeType?)null,
        };
        if (type is null || request.NodeId == 0)
        {
            Reply(connection, MessageType.MemberChangeResponse, new MemberChangeResponse
            {
                RequestId = request.RequestId,
                Status = ResponseStatus.InvalidArgument,
                Message = type is null ? $"unknown member change kind {request.Kind}" : "node id 0 is not a member",
            });
            return;
        }

        var (ran, result) = await AwaitAnswerAsync<MemberChangeResult>((n, done) => n.ChangeMembership(new ConfigChange(type.Value, request.NodeId), done), MemberChangeTimeout).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.MemberChangeResponse, new MemberChangeResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        if (result is null)
        {
            Reply(connection, MessageType.MemberChangeResponse, new MemberChangeResponse
            {
                RequestId = request.RequestId,
                Status = ResponseStatus.Timeout,
                Message = $"the change did not commit within {MemberChangeTimeout.TotalSeconds:F0} s (it may still); check `walrusctl member list`",
            });
            return;
        }

        var response = new MemberChangeResponse
        {
            RequestId = request.RequestId,
            Status = AdminStatus(result.Status),
            LeaderId = result.LeaderId,
            Message = result.Message,
            Index = result.Index,
        };
        response.Voters.AddRange(result.Config.Voters);
        response.Learners.AddRange(result.Config.Learners);
        Reply(connection, MessageType.MemberChangeResponse, response);
    }

    /// <summary>The wire status of an administrative request's outcome (member changes, consistency checks).</summary>
    private static ResponseStatus AdminStatus(RequestStatus status) => status switch
    {
        RequestStatus.Ok => ResponseStatus.Ok,
        RequestStatus.NotLeader => ResponseStatus.NotLeader,
        RequestStatus.InvalidArgument => ResponseStatus.InvalidArgument,
        RequestStatus.Retry => ResponseStatus.Retry,
        _ => ResponseStatus.Unavailable,
    };
}
