using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

/// <summary>One message of every type with every field set to a non-default value.</summary>
internal static class MessageSamples
{
    public static IReadOnlyDictionary<MessageType, IMessage> All { get; } = Build();

    public static IEnumerable<TheoryDataRow<MessageType>> Types() => MessageTypes.All.Select(t => new TheoryDataRow<MessageType>(t));

    private static Dictionary<MessageType, IMessage> Build()
    {
        var entry = new Entry { Index = 7, Term = 3, Stream = "orders", Payload = ByteString.CopyFromUtf8("payload-7") };
        var status = new StatusResponse
        {
            RequestId = 5, Status = ResponseStatus.Ok, NodeId = 1, Name = "node-1", Role = ReplicaRole.Leader, Term = 4,
            CommitIndex = 100, AppliedIndex = 99, FirstIndex = 10, LastIndex = 101, LeaderId = 1,
            TransportMode = "tcp", AgentVersion = "1.0.0",
        };
        status.Addresses.Add("client", "127.0.0.1:7101");
        status.Addresses.Add("peer", "127.0.0.1:7201");
        var peer = new PeerStatus { NodeId = 2, Name = "node-2", Role = ReplicaRole.Follower, MatchIndex = 100, NextIndex = 101, Voter = true };
        peer.Addresses.Add("gossip", "127.0.0.1:7302");
        status.Peers.Add(peer);

        var member = new MemberInfo { Name = "node-2", Address = "127.0.0.1:7302", State = SwimMemberState.Suspect, Incarnation = 9, LastUpdateAgeMs = 1500 };
        member.Metadata.Add("role", "follower");
        member.Metadata.Add("disk_used_bytes", "123456");
        var members = new MembersResponse { RequestId = 6, Status = ResponseStatus.Ok };
        members.Members.Add(member);

        var batch = new AppendBatchRequest { RequestId = 2, ClientId = 42, Sequence = 10 };
        batch.Items.Add(new AppendItem { Stream = "a", Payload = ByteString.CopyFromUtf8("one") });
        batch.Items.Add(new AppendItem { Stream = "", Payload = ByteString.CopyFrom(0, 1, 2, 255) });

        var appendResponse = new AppendResponse
        {
            RequestId = 2, Status = ResponseStatus.NotLeader, Index = 11, Term = 3, LeaderId = 2,
            LeaderClientAddress = "127.0.0.1:7102", Message = "not the leader",
        };
        appendResponse.Indexes.Add([11, 12]);

        var read = new ReadResponse
        {
            RequestId = 3, Status = ResponseStatus.Compacted, CommitIndex = 50, FirstIndex = 7, LastIndex = 50,
            LeaderId = 1, LeaderClientAddress = "127.0.0.1:7101", Message = "below the retained prefix",
        };
        read.Entries.Add(entry);
        var tail = new TailEntries { RequestId = 4, Status = ResponseStatus.Ok, CommitIndex = 8, Message = "more" };
        tail.Entries.Add(entry);

        var raft = RaftMessageMapper.ToProto(RaftSamples.AppendWithEverything());

        var samples = new Dictionary<MessageType, IMessage>
        {
            [MessageType.Hello] = new Hello { ProtocolVersion = 1, NodeId = 3, Role = ConnectionRole.Peer, ClusterId = "cluster-x", Name = "node-3" },
            [MessageType.HelloAck] = new HelloAck { ProtocolVersion = 1, NodeId = 1, ClusterId = "cluster-x", Accepted = true, Reason = "welcome" },
            [MessageType.AppendRequest] = new AppendRequest { RequestId = 1, ClientId = 42, Sequence = 9, Stream = "orders", Payload = ByteString.CopyFromUtf8("hello") },
            [MessageType.AppendBatchRequest] = batch,
            [MessageType.AppendResponse] = appendResponse,
            [MessageType.ReadRequest] = new ReadRequest { RequestId = 3, FromIndex = 7, MaxCount = 100, MaxBytes = 1 << 20, Consistency = ReadConsistency.Stale, Stream = "orders" },
            [MessageType.ReadResponse] = read,
            [MessageType.TailRequest] = new TailRequest { RequestId = 4, FromIndex = 7, Stream = "orders" },
            [MessageType.TailEntries] = tail,
            [MessageType.StatusRequest] = new StatusRequest { RequestId = 5 },
            [MessageType.StatusResponse] = status,
            [MessageType.MembersRequest] = new MembersRequest { RequestId = 6 },
            [MessageType.MembersResponse] = members,
            [MessageType.TransferLeaderRequest] = new TransferLeaderRequest { RequestId = 8, TargetNodeId = 2 },
            [MessageType.TransferLeaderResponse] = new TransferLeaderResponse { RequestId = 8, Status = ResponseStatus.Ok, LeaderId = 2, Message = "transferring" },
            [MessageType.CompactRequest] = new CompactRequest { RequestId = 9, CheckpointNow = true },
            [MessageType.CompactResponse] = new CompactResponse
            {
                RequestId = 9, Status = ResponseStatus.Ok, FirstIndex = 4097, LastIndex = 90_000, CheckpointIndex = 88_000, AppliedIndex = 89_990,
                DataBytes = 123_456_789, Retention = "max-bytes=268435456 max-entries=0", Checkpointing = true, CheckpointStarted = true, Message = "started", RetentionMaxAgeMs = 604_800_000,
            },
            [MessageType.BackupRequest] = new BackupRequest { RequestId = 10, FromIndex = 4097, UpToIndex = 89_990, MaxBytes = 1 << 20 },
            [MessageType.BackupResponse] = new BackupResponse
            {
                RequestId = 10, Status = ResponseStatus.Ok, FirstIndex = 4097, UpToIndex = 89_990, Message = "ok",
                Snapshot = new RaftSnapshotData { Index = 88_000, Term = 3, Voters = { 1, 2, 3 }, Data = ByteString.CopyFrom(9, 8, 7) },
                Entries = { new RaftEntry { Index = 4097, Term = 2, Type = RaftEntryType.Normal, Payload = ByteString.CopyFrom(1, 2) } },
            },
            [MessageType.MemberChangeRequest] = new MemberChangeRequest { RequestId = 11, Kind = MemberChangeKind.Remove, NodeId = 3 },
            [MessageType.MemberChangeResponse] = new MemberChangeResponse
            {
                RequestId = 11, Status = ResponseStatus.Ok, LeaderId = 1, Index = 4242, Message = "Remove 3 committed", Voters = { 1, 2, 4 }, Learners = { 5 },
            },
            [MessageType.ConsistencyCheckRequest] = new ConsistencyCheckRequest { RequestId = 12, FirstIndex = 100, LastIndex = 4195 },
            [MessageType.ConsistencyCheckResponse] = new ConsistencyCheckResponse
            {
                RequestId = 12, Status = ResponseStatus.Ok, LeaderId = 1, FirstIndex = 100, LastIndex = 4195, Message = "replicas differ",
                Peers =
                {
                    new ConsistencyPeer { NodeId = 2, Verdict = ConsistencyVerdict.Match, FirstIndex = 100, LastIndex = 4195, LeaderHash = 0xDEADBEEF, PeerHash = 0xDEADBEEF },
                    new ConsistencyPeer { NodeId = 3, Verdict = ConsistencyVerdict.Mismatch, FirstIndex = 100, LastIndex = 4000, LeaderHash = 1, PeerHash = 2, Detail = "differ" },
                },
            },
            [MessageType.KeyringRequest] = new KeyringRequest { RequestId = 13, Change = KeyringChange.Install, Key = ByteString.CopyFrom(new byte[32]) },
            [MessageType.KeyringResponse] = new KeyringResponse { RequestId = 13, Status = ResponseStatus.Ok, Message = "ok", KeyIds = { "3f9a0c1d", "00aa11bb" }, DroppedPlaintext = 2, DroppedUnauthenticated = 5 },
            [MessageType.AuthRequest] = new AuthRequest { RequestId = 14, Change = AuthChange.PutRole, Name = "reader", Permissions = { "read", "tail" }, StreamPrefix = "orders.", Roles = { "x" } },
            [MessageType.AuthResponse] = new AuthResponse { RequestId = 14, Status = ResponseStatus.PermissionDenied, Message = "denied", Index = 7, Token = "wt_x", Caller = "token:dash", CallerRoles = { "reader" }, Roles = { new AuthRole { Name = "reader", Permissions = { "read" } } }, Tokens = { new AuthPrincipal { Name = "dash", Roles = { "reader" } } } },
            [MessageType.StreamInfoRequest] = new StreamInfoRequest { RequestId = 15, Stream = "orders", Consistency = ReadConsistency.Stale },
            [MessageType.StreamInfoResponse] = new StreamInfoResponse { RequestId = 15, Status = ResponseStatus.Ok, AppliedIndex = 90, Streams = { new StreamDescription { Name = "orders", FirstSequence = 3, LastSequence = 40, Entries = 38, Bytes = 4096, FirstIndex = 12, LastIndex = 88 } } },
            [MessageType.ConsumerRequest] = new ConsumerRequest { RequestId = 16, Action = ConsumerAction.Create, Stream = "orders", Name = "billing", AckTimeoutMs = 5000, StartSequence = 3 },
            [MessageType.ConsumerResponse] = new ConsumerResponse { RequestId = 16, Status = ResponseStatus.Ok, LeaderId = 2, Consumers = { new ConsumerDescription { Stream = "orders", Name = "billing", AckFloor = 9, AckTimeoutMs = 5000, Pending = 2, Redeliveries = 1, LastSequence = 40 } } },
            [MessageType.FetchRequest] = new FetchRequest { RequestId = 17, Stream = "orders", Consumer = "billing", Instance = 7, MaxCount = 10, MaxWaitMs = 500 },
            [MessageType.FetchResponse] = new FetchResponse { RequestId = 17, Status = ResponseStatus.Ok, Term = 4, Entries = { new Entry { Index = 12, Term = 3, Stream = "orders", StreamSequence = 10, Payload = ByteString.CopyFrom(1, 2) } }, DeliveryCounts = { 1 } },
            [MessageType.AckRequest] = new AckRequest { RequestId = 18, Stream = "orders", Consumer = "billing", Instance = 7, UpToSequence = 10 },
            [MessageType.AckResponse] = new AckResponse { RequestId = 18, Status = ResponseStatus.Ok, AckFloor = 10 },
            [MessageType.RaftEnvelope] = raft,
            [MessageType.GossipStream] = new GossipStream { FromAddress = "127.0.0.1:7301", Payload = ByteString.CopyFrom(1, 2, 3, 4, 5) },
        };

        foreach (var type in MessageTypes.All)
        {
            if (!samples.ContainsKey(type))
            {
                throw new InvalidOperationException($"no sample for {type}");
            }
        }

        return samples;
    }
}
