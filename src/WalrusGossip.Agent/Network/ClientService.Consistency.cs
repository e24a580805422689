using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>On-demand replica consistency checks (walrusctl check consistency), answered once every peer did or the round timed out.</summary>
public sealed partial class ClientService
{
    private async Task CheckConsistencyAsync(IFrameConnection connection, ConsistencyCheckRequest request)
    {
        // The round itself ends after WalrusNode.ConsistencyCheckTimeout; the margin covers a busy node loop.
        var (ran, result) = await AwaitAnswerAsync<ConsistencyCheckResult>((n, done) => n.CheckConsistency(request.FirstIndex, request.LastIndex, done), WalrusNode.ConsistencyCheckTimeout * 2).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.ConsistencyCheckResponse, new ConsistencyCheckResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        if (result is null)
        {
            Reply(connection, MessageType.ConsistencyCheckResponse, new ConsistencyCheckResponse { RequestId = request.RequestId, Status = ResponseStatus.Timeout, Message = "the check did not finish in time" });
            return;
        }

        var response = new ConsistencyCheckResponse
        {
            RequestId = request.RequestId,
            Status = AdminStatus(result.Status),
            LeaderId = result.LeaderId,
            Message = result.Message,
        };
        if (result.Report is { } report)
        {
            response.FirstIndex = report.FirstIndex;
            response.LastIndex = report.LastIndex;
            foreach (var p in report.Peers)
            {
                response.Peers.Add(new ConsistencyPeer
                {
                    NodeId = p.PeerId,
                    Verdict = p.Outcome switch
                    {
                        ConsistencyOutcome.Match => ConsistencyVerdict.Match,
                        ConsistencyOutcome.Mismatch => ConsistencyVerdict.Mismatch,
                        ConsistencyOutcome.Unavailable => ConsistencyVerdict.Unavailable,
                        _ => ConsistencyVerdict.NoAnswer,
                    },
                    FirstIndex = p.FirstIndex,
                    LastIndex = p.LastIndex,
                    LeaderHash = p.LeaderHash,
                    PeerHash = p.PeerHash,
                    Detail = p.Detail,
                });
            }
        }

        Reply(connection, MessageType.ConsistencyCheckResponse, response);
    }
}
