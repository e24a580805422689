using System.Collections.Frozen;
using Google.Protobuf;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Protocol;

/// <summary>The table between <see cref="MessageType"/> values and the generated protobuf classes.</summary>
public static class MessageTypes
{
    private static readonly FrozenDictionary<MessageType, MessageParser> Parsers = new Dictionary<MessageType, MessageParser>
    {
        [MessageType.Hello] = Hello.Parser,
        [MessageType.HelloAck] = HelloAck.Parser,
        [MessageType.AppendRequest] = AppendRequest.Parser,
        [MessageType.AppendBatchRequest] = AppendBatchRequest.Parser,
        [MessageType.AppendResponse] = AppendResponse.Parser,
        [MessageType.ReadRequest] = ReadRequest.Parser,
        [MessageType.ReadResponse] = ReadResponse.Parser,
        [MessageType.TailRequest] = TailRequest.Parser,
        [MessageType.TailEntries] = TailEntries.Parser,
        [MessageType.StatusRequest] = StatusRequest.Parser,
        [MessageType.StatusResponse] = StatusResponse.Parser,
        [MessageType.MembersRequest] = MembersRequest.Parser,
        [MessageType.MembersResponse] = MembersResponse.Parser,
        [MessageType.TransferLeaderRequest] = TransferLeaderRequest.Parser,
        [MessageType.TransferLeaderResponse] = TransferLeaderResponse.Parser,
        [MessageType.CompactRequest] = CompactRequest.Parser,
        [MessageType.CompactResponse] = CompactResponse.Parser,
        [MessageType.BackupRequest] = BackupRequest.Parser,
        [MessageType.BackupResponse] = BackupResponse.Parser,
        [MessageType.MemberChangeRequest] = MemberChangeRequest.Parser,
        [MessageType.MemberChangeResponse] = MemberChangeResponse.Parser,
        [MessageType.ConsistencyCheckRequest] = ConsistencyCheckRequest.Parser,
        [MessageType.ConsistencyCheckResponse] = ConsistencyCheckResponse.Parser,
        [MessageType.KeyringRequest] = KeyringRequest.Parser,
        [MessageType.KeyringResponse] = KeyringResponse.Parser,
        [MessageType.AuthRequest] = AuthRequest.Parser,
        [MessageType.AuthResponse] = AuthResponse.Parser,
        [MessageType.StreamInfoRequest] = StreamInfoRequest.Parser,
        [MessageType.StreamInfoResponse] = StreamInfoResponse.Parser,
        [MessageType.ConsumerRequest] = ConsumerRequest.Parser,
        [MessageType.ConsumerResponse] = ConsumerResponse.Parser,
        [MessageType.FetchRequest] = FetchRequest.Parser,
        [MessageType.FetchResponse] = FetchResponse.Parser,
        [MessageType.AckRequest] = AckRequest.Parser,
        [MessageType.AckResponse] = AckResponse.Parser,
        [MessageType.RaftEnvelope] = RaftEnvelope.Parser,
        [MessageType.GossipStream] = GossipStream.Parser,
    }.ToFrozenDictionary();

    private static readonly FrozenDictionary<Type, MessageType> ByClrType = new Dictionary<Type, MessageType>
    {
        [typeof(Hello)] = MessageType.Hello,
        [typeof(HelloAck)] = MessageType.HelloAck,
        [typeof(AppendRequest)] = MessageType.AppendRequest,
        [typeof(AppendBatchRequest)] = MessageType.AppendBatchRequest,
        [typeof(AppendResponse)] = MessageType.AppendResponse,
        [typeof(ReadRequest)] = MessageType.ReadRequest,
        [typeof(ReadResponse)] = MessageType.ReadResponse,
        [typeof(TailRequest)] = MessageType.TailRequest,
        [typeof(TailEntries)] = MessageType.TailEntries,
        [typeof(StatusRequest)] = MessageType.StatusRequest,
        [typeof(StatusResponse)] = MessageType.StatusResponse,
        [typeof(MembersRequest)] = MessageType.MembersRequest,
        [typeof(MembersResponse)] = MessageType.MembersResponse,
        [typeof(TransferLeaderRequest)] = MessageType.TransferLeaderRequest,
        [typeof(TransferLeaderResponse)] = MessageType.TransferLeaderResponse,
        [typeof(CompactRequest)] = MessageType.CompactRequest,
        [typeof(CompactResponse)] = MessageType.CompactResponse,
        [typeof(BackupRequest)] = MessageType.BackupRequest,
        [typeof(BackupResponse)] = MessageType.BackupResponse,
        [typeof(MemberChangeRequest)] = MessageType.MemberChangeRequest,
        [typeof(MemberChangeResponse)] = MessageType.MemberChangeResponse,
        [typeof(ConsistencyCheckRequest)] = MessageType.ConsistencyCheckRequest,
        [typeof(ConsistencyCheckResponse)] = MessageType.ConsistencyCheckResponse,
        [typeof(KeyringRequest)] = MessageType.KeyringRequest,
        [typeof(KeyringResponse)] = MessageType.KeyringResponse,
        [typeof(AuthRequest)] = MessageType.AuthRequest,
        [typeof(AuthResponse)] = MessageType.AuthResponse,
        [typeof(StreamInfoRequest)] = MessageType.StreamInfoRequest,
        [typeof(StreamInfoResponse)] = MessageType.StreamInfoResponse,
        [typeof(ConsumerRequest)] = MessageType.ConsumerRequest,
        [typeof(ConsumerResponse)] = MessageType.ConsumerResponse,
        [typeof(FetchRequest)] = MessageType.FetchRequest,
        [typeof(FetchResponse)] = MessageType.FetchResponse,
        [typeof(AckRequest)] = MessageType.AckRequest,
        [typeof(AckResponse)] = MessageType.AckResponse,
        [typeof(RaftEnvelope)] = MessageType.RaftEnvelope,
        [typeof(GossipStream)] = MessageType.GossipStream,
    }.ToFrozenDictionary();

    /// <summary>Every valid message type, in ascending order.</summary>
    public static IReadOnlyList<MessageType> All { get; } = [.. Parsers.Keys.Order()];

    /// <summary>True when <paramref name="type"/> names a message of this protocol version.</summary>
    /// <param name="type">A type read from a frame header.</param>
    /// <returns>Whether a parser exists for it.</returns>
    public static bool IsKnown(MessageType type) => Parsers.ContainsKey(type);

    /// <summary>The message type of a generated protobuf message.</summary>
    /// <param name="message">A message of <c>walrus.proto</c>.</param>
    /// <returns>Its frame type.</returns>
    /// <exception cref="ArgumentException">The message is not part of the protocol.</exception>
    public static MessageType TypeOf(IMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return ByClrType.TryGetValue(message.GetType(), out var type)
            ? type
            : throw new ArgumentException($"{message.GetType().Name} is not a WalrusGossip protocol message.", nameof(message));
    }

    /// <summary>Parses a frame body.</summary>
    /// <param name="type">The frame's message type.</param>
    /// <param name="body">The bytes after the type; bytes fields are copied, so the buffer may be reused afterwards.</param>
    /// <returns>The message.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.UnknownMessageType"/> or <see cref="ProtocolErrorKind.Malformed"/>.</exception>
    public static IMessage Parse(MessageType type, ReadOnlySpan<byte> body)
    {
        if (!Parsers.TryGetValue(type, out var parser))
        {
            throw new ProtocolException(ProtocolErrorKind.UnknownMessageType, $"unknown message type {(ushort)type}");
        }

        try
        {
            return parser.ParseFrom(body);
        }
        catch (Exception ex) when (ex is InvalidProtocolBufferException or ArgumentException or InvalidOperationException or OverflowException)
        {
            throw new ProtocolException(ProtocolErrorKind.Malformed, $"{type} body of {body.Length} bytes does not parse: {ex.Message}", ex);
        }
    }
}
