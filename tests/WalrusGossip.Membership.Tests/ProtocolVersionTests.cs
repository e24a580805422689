namespace WalrusGossip.Membership.Tests;

/// <summary>
/// A cluster in the middle of a rolling upgrade: some nodes still send gossip protocol version 1 (the format of 0.3),
/// the rest send version 2 (MessagePack). Every node reads both, so the mesh converges and detects failures as one.
/// </summary>
public sealed class ProtocolVersionTests
{
    private static MembershipOptions Version(int version) => new() { ProtocolVersion = version };

    [Fact]
    public void Nodes_sending_version_1_and_version_2_converge_and_detect_a_crash_together()
    {
        var net = new SimulatedNetwork(seed: 21, nodeCount: 5, new MembershipOptions(), perNodeOptions: i => Version(i < 2 ? 1 : 2));
        net.JoinAllThroughFirst();

        Assert.NotNull(net.RunUntil(() => net.AllLiveViewsHave(5), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100)));
        net.Crash(4);
        var done = net.RunUntil(
            () => Enumerable.Range(0, 4).All(i => net.ViewOf(i, 4).State == MemberState.Dead),
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(50));

        Assert.NotNull(done);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(0, net.Nodes[i].Node.Counters.MalformedMessages);
            Assert.Equal(4, net.Nodes[i].Node.LiveMemberCount);
        }
    }

    [Theory]
    [InlineData(1, LegacyMessageCodec.ProtocolVersion)]
    [InlineData(2, MessageCodec.ProtocolVersion)]
    public void A_node_sends_the_version_it_is_configured_for(int configured, byte firstByte)
    {
        var node = TestNodes.Create(options: Version(configured));
        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.LegacyDatagram(GossipMessage.Ping(5, "self", "other", "other:1")));
        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.Datagram(GossipMessage.Ping(6, "self", "other", "other:1")));

        var sent = TestNodes.Sent(node);

        Assert.Equal(2, sent.Count); // both pings answered, whichever version they came in
        Assert.All(sent, m => Assert.Equal(firstByte, m.Payload[0]));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void A_version_outside_1_and_2_is_refused_at_start(int version)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Version(version).Validate());

        Assert.Equal(nameof(MembershipOptions.ProtocolVersion), error.ParamName);
    }
}
