using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Client.Tests.Fakes;

/// <summary>What a fake agent does to an append after storing it.</summary>
internal enum AppendFault
{
    /// <summary>Store the entry, then close the connection without answering (the response is lost).</summary>
    DropConnectionAfterApply,

    /// <summary>Store the entry and never answer (the client's attempt times out).</summary>
    NoAnswerAfterApply,
}

/// <summary>
/// A small stand-in for walrus-agent's client port, built on the real transport (TCP + TLS 1.3, Hello handshake):
/// it answers every client request from a <see cref="FakeLog"/>, can play a follower that answers NOT_LEADER, and
/// injects faults on demand.
/// </summary>
internal sealed class FakeAgent : IAsyncDisposable
{
    private readonly IFrameListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly ConcurrentDictionary<IFrameConnection, byte> _connections = new();
    private readonly Task _acceptLoop;
    private int _appendRequests;
    private int _readRequests;
    private int _tailRequests;
    private int _connectionsAccepted;

    private FakeAgent(IFrameListener listener, ulong nodeId, FakeLog log)
    {
        _listener = listener;
        NodeId = nodeId;
        Log = log;
        Endpoint = $"127.0.0.1:{listener.LocalEndPoint.Port}";
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public ulong NodeId { get; }

    public FakeLog Log { get; }

    public string Endpoint { get; }

    /// <summary>When set, this agent is a follower of that leader: appends and linearizable reads answer NOT_LEADER.</summary>
    public FakeAgent? Leader { get; set; }

    /// <summary>A follower that knows no leader: NOT_LEADER without an address.</summary>
    public bool LeaderUnknown { get; set; }

    /// <summary>A follower that forwards writes (serves them itself from the shared log) instead of redirecting.</summary>
    public bool ForwardsWrites { get; set; }

    /// <summary>Answers every request of a message type with this status (for typed-exception tests).</summary>
    public ConcurrentDictionary<MessageType, ResponseStatus> ForcedStatus { get; } = new();

    /// <summary>Faults applied to the next appends, one per append.</summary>
    public ConcurrentQueue<AppendFault> AppendFaults { get; } = new();

    /// <summary>Close the tail connection once this many entries have been sent on it (0: never). Reset after it fires.</summary>
    public int DropTailAfterEntries { get; set; }

    /// <summary>Cluster members reported in status (other than this one): node id and client address.</summary>
    public List<(ulong NodeId, string ClientAddress)> Peers { get; } = [];

    public int AppendRequests => Volatile.Read(ref _appendRequests);

    /// <summary>The acknowledged_below field of every append request, in arrival order.</summary>
    public ConcurrentQueue<ulong> AcknowledgedBelow { get; } = new();

    /// <summary>When set, append requests are counted and then held until it completes.</summary>
    public TaskCompletionSource? HoldAppends { get; set; }

    /// <summary>Payloads larger than this are refused INVALID_ARGUMENT, the whole request before anything is applied (as the agent does).</summary>
    public int MaxPayloadBytes { get; set; } = int.MaxValue;

    public int ReadRequests => Volatile.Read(ref _readRequests);

    public int TailRequests => Volatile.Read(ref _tailRequests);

    public int ConnectionsAccepted => Volatile.Read(ref _connectionsAccepted);

    public static async Task<FakeAgent> StartAsync(ulong nodeId = 1, FakeLog? log = null)
    {
        var transport = TransportFactory.Create(
            new TransportOptions { Mode = TransportMode.Tcp, Certificate = TestCertificates.Agent, TrustedRoots = TestCertificates.Roots },
            NullLogger.Instance,
            out _);
        var listener = await transport.ListenAsync(new IPEndPoint(IPAddress.Loopback, 0), CancellationToken.None);
        return new FakeAgent(listener, nodeId, log ?? new FakeLog());
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _listener.DisposeAsync();
        foreach (var connection in _connections.Keys)
        {
            await connection.DisposeAsync();
        }

        try
        {
            await _acceptLoop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            IFrameConnection connection;
            try
            {
                connection = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref _connectionsAccepted);
            _connections[connection] = 0;
            _ = Task.Run(() => ServeAsync(connection));
        }
    }

    private async Task ServeAsync(IFrameConnection connection)
    {
        try
        {
            var hello = await HelloHandshake.AcceptAsync(connection, new HelloAcceptOptions { LocalNodeId = NodeId }, null, _stop.Token);
            if (hello is null)
            {
                return;
            }

            while (await connection.ReceiveAsync(_stop.Token) is { } frame)
            {
                if (!await HandleAsync(connection, frame.Type, frame.Message))
                {
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or ProtocolException)
        {
        }
        finally
        {
            _connections.TryRemove(connection, out _);
            await connection.DisposeAsync();
        }
    }

    /// <summary>Answers one request; false closes the connection.</summary>
    private async Task<bool> HandleAsync(IFrameConnection connection, MessageType type, IMessage message)
    {
        var token = _stop.Token;
        ResponseStatus? forced = ForcedStatus.TryGetValue(type, out var status) ? status : null;
        switch (message)
        {
            case AppendRequest append:
            {
                Interlocked.Increment(ref _appendRequests);
                AcknowledgedBelow.Enqueue(append.AcknowledgedBelow);
                await (HoldAppends?.Task ?? Task.CompletedTask);
                var response = new AppendResponse { RequestId = append.RequestId, Term = Log.Term };
                if (append.Payload.Length > MaxPayloadBytes)
                {
                    response.Status = ResponseStatus.InvalidArgument;
                    response.Message = "payload too large";
                }
                else if (!Refused(forced, response, (s, id, address) => { response.Status = s; response.LeaderId = id; response.LeaderClientAddress = address; }))
                {
                    response.Index = Log.Append(append.ClientId, append.Sequence, append.Stream, append.Payload);
                    response.Status = response.Index == 0 ? ResponseStatus.SessionExpired : ResponseStatus.Ok;
                    if (AppendFaults.TryDequeue(out var fault))
                    {
                        return fault == AppendFault.NoAnswerAfterApply;
                    }
                }

                await connection.SendAsync(MessageType.AppendResponse, response, token);
                return true;
            }

            case AppendBatchRequest batch:
            {
                Interlocked.Increment(ref _appendRequests);
                AcknowledgedBelow.Enqueue(batch.AcknowledgedBelow);
                await (HoldAppends?.Task ?? Task.CompletedTask);
                var response = new AppendResponse { RequestId = batch.RequestId, Term = Log.Term };
                if (batch.Items.Any(item => item.Payload.Length > MaxPayloadBytes))
                {
                    response.Status = ResponseStatus.InvalidArgument;
                    response.Message = "payload too large";
                }
                else if (!Refused(forced, response, (s, id, address) => { response.Status = s; response.LeaderId = id; response.LeaderClientAddress = address; }))
                {
                    for (var i = 0; i < batch.Items.Count; i++)
                    {
                        response.Indexes.Add(Log.Append(batch.ClientId, batch.Sequence + (ulong)i, batch.Items[i].Stream, batch.Items[i].Payload));
                    }

                    response.Index = response.Indexes[0];
                    response.Status = response.Indexes.Contains(0ul) ? ResponseStatus.SessionExpired : ResponseStatus.Ok;
                    if (AppendFaults.TryDequeue(out var fault))
                    {
                        return fault == AppendFault.NoAnswerAfterApply;
                    }
                }

                await connection.SendAsync(MessageType.AppendResponse, response, token);
                return true;
            }

            case ReadRequest read:
            {
                Interlocked.Increment(ref _readRequests);
                var response = new ReadResponse { RequestId = read.RequestId, FirstIndex = 1 };
                var linearizable = read.Consistency != ReadConsistency.Stale;
                if (forced is { } f)
                {
                    response.Status = f;
                }
                else if (linearizable && Leader is not null && !ForwardsWrites)
                {
                    response.Status = ResponseStatus.NotLeader;
                    response.LeaderId = LeaderUnknown ? 0 : Leader.NodeId;
                    response.LeaderClientAddress = LeaderUnknown ? string.Empty : Leader.Endpoint;
                }
                else
                {
                    var last = Log.LastIndex;
                    response.LastIndex = last;
                    response.CommitIndex = last;
                    if (read.FromIndex > last)
                    {
                        response.Status = ResponseStatus.NotFound;
                    }
                    else
                    {
                        var (entries, _) = Log.ReadFrom(read.FromIndex, read.MaxCount == 0 ? 1000 : (int)read.MaxCount);
                        response.Entries.AddRange(entries.Where(e => read.Stream.Length == 0 || e.Stream == read.Stream));
                        response.Status = ResponseStatus.Ok;
                    }
                }

                await connection.SendAsync(MessageType.ReadResponse, response, token);
                return true;
            }

            case TailRequest tail:
                Interlocked.Increment(ref _tailRequests);
                _ = Task.Run(() => TailAsync(connection, tail, forced));
                return true;

            case StatusRequest statusRequest:
            {
                var response = new StatusResponse
                {
                    RequestId = statusRequest.RequestId,
                    Status = forced ?? ResponseStatus.Ok,
                    NodeId = NodeId,
                    Name = $"node-{NodeId}",
                    Role = Leader is null ? ReplicaRole.Leader : ReplicaRole.Follower,
                    Term = Log.Term,
                    CommitIndex = Log.LastIndex,
                    AppliedIndex = Log.LastIndex,
                    FirstIndex = 1,
                    LastIndex = Log.LastIndex,
                    LeaderId = Leader?.NodeId ?? NodeId,
                    TransportMode = "tcp",
                    AgentVersion = "fake",
                };
                response.Addresses.Add("client", Endpoint);
                foreach (var (id, address) in Peers)
                {
                    var peer = new Protocol.Messages.PeerStatus { NodeId = id, Name = $"node-{id}", Voter = true, Role = ReplicaRole.Follower };
                    peer.Addresses.Add("client", address);
                    response.Peers.Add(peer);
                }

                await connection.SendAsync(MessageType.StatusResponse, response, token);
                return true;
            }

            case MembersRequest members:
            {
                var response = new MembersResponse { RequestId = members.RequestId, Status = ResponseStatus.Ok };
                var self = new MemberInfo { Name = $"node-{NodeId}", Address = "127.0.0.1:7301", State = SwimMemberState.Alive, Incarnation = 2, LastUpdateAgeMs = 1500 };
                self.Metadata.Add("role", "leader");
                response.Members.Add(self);
                response.Members.Add(new MemberInfo { Name = "node-9", Address = "127.0.0.1:7309", State = SwimMemberState.Suspect, Incarnation = 1 });
                await connection.SendAsync(MessageType.MembersResponse, response, token);
                return true;
            }

            case TransferLeaderRequest transfer:
            {
                var response = new TransferLeaderResponse { RequestId = transfer.RequestId };
                if (Leader is not null)
                {
                    // Like the real agent: NOT_LEADER names the leader's id only; the client finds its address in status.
                    response.Status = ResponseStatus.NotLeader;
                    response.LeaderId = Leader.NodeId;
                }
                else
                {
                    response.Status = forced ?? ResponseStatus.Ok;
                    response.LeaderId = transfer.TargetNodeId;
                    response.Message = "transfer started";
                }

                await connection.SendAsync(MessageType.TransferLeaderResponse, response, token);
                return true;
            }

            default:
                return false;
        }
    }

    /// <summary>Fills in a refusal (forced status, or NOT_LEADER on a follower); false when the request should be served.</summary>
    private bool Refused(ResponseStatus? forced, IMessage response, Action<ResponseStatus, ulong, string> set)
    {
        _ = response;
        if (forced is { } f)
        {
            set(f, 0, string.Empty);
            return true;
        }

        if (Leader is not null && !ForwardsWrites)
        {
            set(ResponseStatus.NotLeader, LeaderUnknown ? 0 : Leader.NodeId, LeaderUnknown ? string.Empty : Leader.Endpoint);
            return true;
        }

        return false;
    }

    private async Task TailAsync(IFrameConnection connection, TailRequest request, ResponseStatus? forced)
    {
        try
        {
            if (forced is { } f)
            {
                await connection.SendAsync(MessageType.TailEntries, new TailEntries { RequestId = request.RequestId, Status = f, Message = "forced" }, _stop.Token);
                return;
            }

            var next = request.FromIndex;
            var sent = 0;
            while (!_stop.IsCancellationRequested)
            {
                var (entries, changed) = Log.ReadFrom(next, 7);
                if (entries.Length == 0)
                {
                    await changed.WaitAsync(_stop.Token);
                    continue;
                }

                var frame = new TailEntries { RequestId = request.RequestId, Status = ResponseStatus.Ok, CommitIndex = Log.LastIndex };
                frame.Entries.AddRange(entries);
                await connection.SendAsync(MessageType.TailEntries, frame, _stop.Token);
                next += (ulong)entries.Length;
                sent += entries.Length;
                if (DropTailAfterEntries > 0 && sent >= DropTailAfterEntries)
                {
                    DropTailAfterEntries = 0;
                    await connection.DisposeAsync();
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }
}
