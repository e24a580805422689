using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client.Connections;

/// <summary>The fields every client response carries, read uniformly from whichever message it is.</summary>
/// <param name="RequestId">The request the response answers.</param>
/// <param name="Status">Outcome.</param>
/// <param name="LeaderId">Leader's node id when the agent reported one, else 0.</param>
/// <param name="LeaderClientAddress">Leader's client address when reported, else empty.</param>
/// <param name="Message">Human-readable detail, possibly empty.</param>
internal readonly record struct ResponseInfo(ulong RequestId, ResponseStatus Status, ulong LeaderId, string LeaderClientAddress, string Message)
{
    /// <summary>Reads the common fields of a client response.</summary>
    /// <param name="type">Frame type.</param>
    /// <param name="message">The message.</param>
    /// <returns>The fields, or null when <paramref name="type"/> is not a client response.</returns>
    public static ResponseInfo? Of(MessageType type, IMessage message) => type switch
    {
        MessageType.AppendResponse when message is AppendResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        MessageType.ReadResponse when message is ReadResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        MessageType.TailEntries when message is TailEntries r => new(r.RequestId, r.Status, 0, string.Empty, r.Message),
        MessageType.StatusResponse when message is StatusResponse r => new(r.RequestId, r.Status, r.LeaderId, string.Empty, string.Empty),
        MessageType.MembersResponse when message is MembersResponse r => new(r.RequestId, r.Status, 0, string.Empty, string.Empty),
        MessageType.TransferLeaderResponse when message is TransferLeaderResponse r => new(r.RequestId, r.Status, r.LeaderId, string.Empty, r.Message),
        MessageType.CompactResponse when message is CompactResponse r => new(r.RequestId, r.Status, 0, string.Empty, r.Message),
        MessageType.BackupResponse when message is BackupResponse r => new(r.RequestId, r.Status, 0, string.Empty, r.Message),
        MessageType.MemberChangeResponse when message is MemberChangeResponse r => new(r.RequestId, r.Status, r.LeaderId, string.Empty, r.Message),
        MessageType.ConsistencyCheckResponse when message is ConsistencyCheckResponse r => new(r.RequestId, r.Status, r.LeaderId, string.Empty, r.Message),
        MessageType.KeyringResponse when message is KeyringResponse r => new(r.RequestId, r.Status, 0, string.Empty, r.Message),
        MessageType.AuthResponse when message is AuthResponse r => new(r.RequestId, r.Status, r.LeaderId, string.Empty, r.Message),
        MessageType.StreamInfoResponse when message is StreamInfoResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        MessageType.ConsumerResponse when message is ConsumerResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        MessageType.FetchResponse when message is FetchResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        MessageType.AckResponse when message is AckResponse r => new(r.RequestId, r.Status, r.LeaderId, r.LeaderClientAddress, r.Message),
        _ => null,
    };

    /// <summary>Writes the request id into a client request.</summary>
    /// <param name="request">A client request message.</param>
    /// <param name="requestId">The id the response will echo.</param>
    /// <exception cref="ArgumentException">The message is not a client request.</exception>
    public static void SetRequestId(IMessage request, ulong requestId)
    {
        switch (request)
        {
            case AppendRequest r: r.RequestId = requestId; break;
            case AppendBatchRequest r: r.RequestId = requestId; break;
            case ReadRequest r: r.RequestId = requestId; break;
            case TailRequest r: r.RequestId = requestId; break;
            case StatusRequest r: r.RequestId = requestId; break;
            case MembersRequest r: r.RequestId = requestId; break;
            case TransferLeaderRequest r: r.RequestId = requestId; break;
            case CompactRequest r: r.RequestId = requestId; break;
            case BackupRequest r: r.RequestId = requestId; break;
            case MemberChangeRequest r: r.RequestId = requestId; break;
            case ConsistencyCheckRequest r: r.RequestId = requestId; break;
            case KeyringRequest r: r.RequestId = requestId; break;
            case AuthRequest r: r.RequestId = requestId; break;
            case StreamInfoRequest r: r.RequestId = requestId; break;
            case ConsumerRequest r: r.RequestId = requestId; break;
            case FetchRequest r: r.RequestId = requestId; break;
            case AckRequest r: r.RequestId = requestId; break;
            default: throw new ArgumentException($"{request.GetType().Name} is not a client request", nameof(request));
        }
    }
}
