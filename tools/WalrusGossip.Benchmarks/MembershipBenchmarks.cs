using BenchmarkDotNet.Attributes;
using WalrusGossip.Membership;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// SWIM message decode and handling throughput of <see cref="MembershipNode"/>, with allocations.
/// The node knows 64 members; time is held still so no timer fires between operations and every
/// iteration sees the same state.
/// </summary>
[MemoryDiagnoser]
public class MembershipBenchmarks
{
    private const int Members = 64;
    private static readonly TimeSpan Now = TimeSpan.FromSeconds(100);

    private readonly List<OutboundMessage> _sent = new(16);
    private readonly List<GossipMessage> _decoded = new(16);
    private MembershipNode _node = null!;
    private MembershipNode _peer = null!;
    private byte[] _pingWithPiggyback = [];
    private byte[] _gossipOnly = [];
    private byte[] _pushPull = [];

    [GlobalSetup]
    public void Setup()
    {
        _node = CreateNode("bench");
        _peer = CreateNode("m01");

        // Ping from m01 carrying three (already known, hence stale) alive updates, as on a quiet cluster.
        _pingWithPiggyback = Datagram(
            GossipMessage.Ping(1, "bench", "m01", "m01:7946"),
            Alive("m02"),
            Alive("m03"),
            Alive("m04"));
        _gossipOnly = Datagram(Alive("m05"), Alive("m06"), Alive("m07"), Alive("m08"), Alive("m09"), Alive("m10"));
        _pushPull = PushPull(response: true);
    }

    /// <summary>Wire decoding only, without the node's string pool: a ping with three piggybacked alive messages.</summary>
    [Benchmark(Baseline = true)]
    public int DecodePingDatagram()
    {
        _decoded.Clear();
        MessageCodec.DecodeDatagram(_pingWithPiggyback, 512, _decoded, out _, out _);
        return _decoded.Count;
    }

    /// <summary>Decode, handle the ping and its piggyback, build and emit the ack.</summary>
    [Benchmark]
    public int HandlePing()
    {
        _node.ReceiveDatagram(Now, "m01:7946", _pingWithPiggyback);
        var count = _node.DrainMessages(_sent);
        _sent.Clear();
        return count;
    }

    /// <summary>Decode and merge a gossip datagram of six alive updates.</summary>
    [Benchmark]
    public long HandleGossipDatagram()
    {
        _node.ReceiveDatagram(Now, "m01:7946", _gossipOnly);
        return _node.Counters.DatagramsReceived;
    }

    /// <summary>One node answers the other's ping; the ack is handled by the prober.</summary>
    [Benchmark]
    public int PingAckRoundTrip()
    {
        _peer.ReceiveDatagram(Now, "bench:7946", _pingWithPiggyback);
        _node.ReceiveDatagram(Now, "m01:7946", _pingWithPiggyback);
        _node.DrainMessages(_sent);
        var ack = _sent[0].Payload;
        _sent.Clear();
        _peer.DrainMessages(_sent);
        _sent.Clear();
        _peer.ReceiveDatagram(Now, "bench:7946", ack);
        return ack.Length;
    }

    /// <summary>Decode and merge a 64-member push-pull response (anti-entropy).</summary>
    [Benchmark]
    public long HandlePushPull()
    {
        _node.ReceiveStream(Now, "m01:7946", _pushPull);
        return _node.Counters.StreamMessagesReceived;
    }

    private static MembershipNode CreateNode(string name)
    {
        var node = new MembershipNode(name, name + ":7946", new MembershipOptions(), new Random(1), Now, Meta(name));
        node.ReceiveStream(Now, "m01:7946", PushPull(response: true));
        node.DrainMessages(new List<OutboundMessage>());
        node.DrainEvents(new List<MembershipEvent>());
        node.DrainLog(new List<MembershipLogEntry>());
        return node;
    }

    private static Dictionary<string, string> Meta(string name) => new()
    {
        [MetadataKeys.GossipAddress] = name + ":7946",
        [MetadataKeys.PeerAddress] = name + ":7000",
        [MetadataKeys.Version] = "0.1.0",
        [MetadataKeys.RaftRole] = "follower",
        [MetadataKeys.CommitIndex] = "123456",
    };

    private static GossipMessage Alive(string name) => GossipMessage.Alive(0, name, name + ":7946", Meta(name));

    private static byte[] PushPull(bool response)
    {
        var entries = new List<PushPullEntry>(Members);
        for (var i = 1; i <= Members; i++)
        {
            var name = $"m{i:D2}";
            entries.Add(new PushPullEntry(name, name + ":7946", 0, MemberState.Alive, Meta(name)));
        }

        return MessageCodec.EncodePushPull(join: false, response, "m01", entries);
    }

    private static byte[] Datagram(params GossipMessage[] messages)
    {
        var writer = new WireWriter(256);
        writer.WriteByte(MessageCodec.ProtocolVersion);
        foreach (var message in messages)
        {
            MessageCodec.WriteMessage(writer, message);
        }

        return writer.ToArray();
    }
}
