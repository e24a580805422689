using WalrusGossip.Node;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Network;

/// <summary>The gossip keyring of this agent (walrusctl keyring list|install|use|remove, sent to every agent in turn).</summary>
public sealed partial class ClientService
{
    private async Task KeyringAsync(IFrameConnection connection, KeyringRequest request)
    {
        var change = request.Change switch
        {
            KeyringChange.List => GossipKeyringChange.List,
            KeyringChange.Install => GossipKeyringChange.Install,
            KeyringChange.Use => GossipKeyringChange.Use,
            KeyringChange.Remove => GossipKeyringChange.Remove,
            _ => (GossipKeyringChange?)null,
        };
        if (change is null)
        {
            Reply(connection, MessageType.KeyringResponse, new KeyringResponse { RequestId = request.RequestId, Status = ResponseStatus.InvalidArgument, Message = $"unknown keyring change {request.Change}" });
            return;
        }

        var key = request.Key.ToByteArray();
        var (ran, answer) = await TryInvokeAsync(n => (n.ChangeGossipKeyring(change.Value, key), n.GossipDroppedPlaintext, n.GossipDroppedUnauthenticated)).ConfigureAwait(false);
        if (!ran)
        {
            Reply(connection, MessageType.KeyringResponse, new KeyringResponse { RequestId = request.RequestId, Status = ResponseStatus.Unavailable, Message = NodeDownMessage });
            return;
        }

        var (result, plaintext, unauthenticated) = answer;
        var response = new KeyringResponse
        {
            RequestId = request.RequestId,
            Status = AdminStatus(result.Status),
            Message = result.Message,
            DroppedPlaintext = (ulong)plaintext,
            DroppedUnauthenticated = (ulong)unauthenticated,
        };
        response.KeyIds.AddRange(result.KeyIds);
        Reply(connection, MessageType.KeyringResponse, response);
    }
}
