namespace WalrusGossip.Membership.Tests;

/// <summary>
/// A cluster in the middle of a rolling upgrade: some nodes still send gossip protocol version 1 (the format of 0.3),
/// the rest send version 2 (MessagePack). Every node reads both, so the mesh converges and detects failures as one.
/// </summary>
public sealed class ProtocolVersionTests(ITestOutputHelper output)
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

    /// <summary>
    /// The same runs under both codecs, so only the encoding differs: 20 seeds of 5 members at 5% datagram loss, one
    /// crashed 10 s after convergence (time until all 4 survivors hold it dead), then 3 seeds of 10,000 protocol periods
    /// at 5% loss with nobody crashed (every dead event is a false positive).
    /// </summary>
    private static (double Mean, double Max, int FalseDeaths, int Suspicions) Measure(int version)
    {
        var options = Version(version);
        var samples = new List<double>();
        for (var seed = 1; seed <= 20; seed++)
        {
            var net = new SimulatedNetwork(seed, 5, options) { LossRate = 0.05 };
            net.JoinAllThroughFirst();
            Assert.NotNull(net.RunUntil(() => net.AllLiveViewsHave(5), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100)));
            samples.Add(FailureDetectionTests.CrashAndTimeToDead(net, seed));
        }

        var falseDeaths = 0;
        var suspicions = 0;
        for (var seed = 31; seed <= 33; seed++)
        {
            var net = new SimulatedNetwork(seed, 5, options);
            net.JoinAllThroughFirst();
            Assert.NotNull(net.RunUntil(() => net.AllLiveViewsHave(5), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100)));
            net.LossRate = 0.05;
            net.OnEvent = (_, e) =>
            {
                falseDeaths += e.Kind == MembershipEventKind.Dead ? 1 : 0;
                suspicions += e.Kind == MembershipEventKind.Suspect ? 1 : 0;
            };
            net.RunFor(options.ProbeInterval * 10_000);
        }

        return (samples.Average(), samples.Max(), falseDeaths, suspicions);
    }

    [Fact]
    public void At_five_percent_loss_version_2_detects_as_fast_as_version_1_with_no_false_deaths()
    {
        var v1 = Measure(1);
        var v2 = Measure(2);
        output.WriteLine($"5 members, 5% loss, 20 crashes: version 1 mean {v1.Mean:F2} s max {v1.Max:F2} s; version 2 mean {v2.Mean:F2} s max {v2.Max:F2} s");
        output.WriteLine($"30,000 periods at 5% loss, nobody crashed: version 1 {v1.FalseDeaths} false deaths, {v1.Suspicions} suspicions; version 2 {v2.FalseDeaths} false deaths, {v2.Suspicions} suspicions");

        Assert.Equal(0, v2.FalseDeaths);
        Assert.True(v2.Mean <= v1.Mean * 1.1, $"version 2 mean {v2.Mean:F2} s against version 1 {v1.Mean:F2} s");
    }
}
