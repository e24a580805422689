namespace WalrusGossip.Protocol;

/// <summary>
/// The u16 message type carried in every frame header, one value per message of <c>walrus.proto</c>.
/// Values are part of the wire format: never renumber, only add.
/// </summary>
public enum MessageType : ushort
{
    /// <summary>Not a message; never valid on the wire.</summary>
    None = 0,

    /// <summary><see cref="Messages.Hello"/>.</summary>
    Hello = 1,

    /// <summary><see cref="Messages.HelloAck"/>.</summary>
    HelloAck = 2,

    /// <summary><see cref="Messages.AppendRequest"/>.</summary>
    AppendRequest = 10,

    /// <summary><see cref="Messages.AppendBatchRequest"/>.</summary>
    AppendBatchRequest = 11,

    /// <summary><see cref="Messages.AppendResponse"/>.</summary>
    AppendResponse = 12,

    /// <summary><see cref="Messages.ReadRequest"/>.</summary>
    ReadRequest = 13,

    /// <summary><see cref="Messages.ReadResponse"/>.</summary>
    ReadResponse = 14,

    /// <summary><see cref="Messages.TailRequest"/>.</summary>
    TailRequest = 15,

    /// <summary><see cref="Messages.TailEntries"/>.</summary>
    TailEntries = 16,

    /// <summary><see cref="Messages.StatusRequest"/>.</summary>
    StatusRequest = 17,

    /// <summary><see cref="Messages.StatusResponse"/>.</summary>
    StatusResponse = 18,

    /// <summary><see cref="Messages.MembersRequest"/>.</summary>
    MembersRequest = 19,

    /// <summary><see cref="Messages.MembersResponse"/>.</summary>
    MembersResponse = 20,

    /// <summary><see cref="Messages.TransferLeaderRequest"/>.</summary>
    TransferLeaderRequest = 21,

    /// <summary><see cref="Messages.TransferLeaderResponse"/>.</summary>
    TransferLeaderResponse = 22,

    /// <summary><see cref="Messages.CompactRequest"/>.</summary>
    CompactRequest = 23,

    /// <summary><see cref="Messages.CompactResponse"/>.</summary>
    CompactResponse = 24,

    /// <summary><see cref="Messages.BackupRequest"/>.</summary>
    BackupRequest = 25,

    /// <summary><see cref="Messages.BackupResponse"/>.</summary>
    BackupResponse = 26,

    /// <summary><see cref="Messages.MemberChangeRequest"/>.</summary>
    MemberChangeRequest = 27,

    /// <summary><see cref="Messages.MemberChangeResponse"/>.</summary>
    MemberChangeResponse = 28,

    /// <summary><see cref="Messages.ConsistencyCheckRequest"/>.</summary>
    ConsistencyCheckRequest = 31,

    /// <summary><see cref="Messages.ConsistencyCheckResponse"/>.</summary>
    ConsistencyCheckResponse = 32,

    /// <summary><see cref="Messages.KeyringRequest"/>.</summary>
    KeyringRequest = 33,

    /// <summary><see cref="Messages.KeyringResponse"/>.</summary>
    KeyringResponse = 34,

    /// <summary><see cref="Messages.AuthRequest"/>.</summary>
    AuthRequest = 35,

    /// <summary><see cref="Messages.AuthResponse"/>.</summary>
    AuthResponse = 36,

    /// <summary><see cref="Messages.StreamInfoRequest"/>.</summary>
    StreamInfoRequest = 37,

    /// <summary><see cref="Messages.StreamInfoResponse"/>.</summary>
    StreamInfoResponse = 38,

    /// <summary><see cref="Messages.ConsumerRequest"/>.</summary>
    ConsumerRequest = 50,

    /// <summary><see cref="Messages.ConsumerResponse"/>.</summary>
    ConsumerResponse = 51,

    /// <summary><see cref="Messages.FetchRequest"/>.</summary>
    FetchRequest = 52,

    /// <summary><see cref="Messages.FetchResponse"/>.</summary>
    FetchResponse = 53,

    /// <summary><see cref="Messages.AckRequest"/>.</summary>
    AckRequest = 54,

    /// <summary><see cref="Messages.AckResponse"/>.</summary>
    AckResponse = 55,

    /// <summary><see cref="Messages.RaftEnvelope"/>.</summary>
    RaftEnvelope = 40,

    /// <summary><see cref="Messages.GossipStream"/>.</summary>
    GossipStream = 41,
}
