namespace WalrusGossip.Membership.Tests;

public sealed class FailureDetectionTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    internal static SimulatedNetwork ConvergedCluster(int seed, int size, MembershipOptions? options = null)
    {
        var net = new SimulatedNetwork(seed, size, options ?? new MembershipOptions());
        net.JoinAllThroughFirst();
        var converged = net.RunUntil(() => net.AllLiveViewsHave(size), TimeSpan.FromSeconds(60), TimeSpan.FromMilliseconds(100));
        Assert.NotNull(converged);
        return net;
    }

    [Fact]
    public void Crashed_member_of_five_is_marked_dead_by_every_survivor()
    {
        var net = ConvergedCluster(seed: 1, size: 5);
        net.RunFor(TimeSpan.FromSeconds(10));
        net.Crash(3);

        var done = net.RunUntil(
            () => Enumerable.Range(0, 5).Where(i => i != 3).All(i => net.ViewOf(i, 3).State == MemberState.Dead),
            TimeSpan.FromSeconds(30),
            TimeSpan.FromMilliseconds(50));

        Assert.NotNull(done);
        foreach (var i in new[] { 0, 1, 2, 4 })
        {
            Assert.Equal(4, net.Nodes[i].Node.LiveMemberCount);
            Assert.Contains(net.Nodes[i].Events, e => e.Kind == MembershipEventKind.Dead && e.Member == "n03");
        }
    }

    /// <summary>
    /// Runs a converged 5-member cluster 10 s (plus a seed-dependent offset), crashes member <c>seed % 5</c> and
    /// returns the simulated seconds until all 4 survivors hold it dead.
    /// </summary>
    internal static double CrashAndTimeToDead(SimulatedNetwork net, int seed)
    {
        net.RunFor(TimeSpan.FromSeconds(10) + TimeSpan.FromMilliseconds(37 * seed));
        var victim = seed % 5;
        var crashedAt = net.Now;
        net.Crash(victim);
        var done = net.RunUntil(
            () => Enumerable.Range(0, 5).Where(i => i != victim).All(i => net.ViewOf(i, victim).State == MemberState.Dead),
            TimeSpan.FromSeconds(60),
            TimeSpan.FromMilliseconds(10));
        Assert.NotNull(done);
        return (done.Value - crashedAt).TotalSeconds;
    }

    [Fact]
    public void Time_for_all_survivors_to_mark_a_crashed_member_dead_with_default_options()
    {
        var samples = new List<double>();
        for (var seed = 1; seed <= 20; seed++)
        {
            samples.Add(CrashAndTimeToDead(ConvergedCluster(seed, size: 5), seed));
        }

        samples.Sort();
        var mean = samples.Average();
        output.WriteLine(
            $"time to dead at all 4 survivors, 5 members, default options, 20 seeds: mean {mean:F2} s, " +
            $"median {samples[samples.Count / 2]:F2} s, min {samples[0]:F2} s, max {samples[^1]:F2} s");
        Assert.True(mean <= 4.0, $"mean time to dead {mean:F2} s exceeds the 4 s target");
        Assert.True(samples[^1] < 4.0, $"slowest time to dead {samples[^1]:F2} s: issue 21 asks for every run under 4 s");
    }

    [Fact]
    public void Suspected_member_that_is_alive_refutes_and_stays_alive()
    {
        var net = ConvergedCluster(seed: 2, size: 5);
        net.RunFor(TimeSpan.FromSeconds(10));
        var victim = net.Nodes[2].Node;
        var incarnationBefore = victim.Incarnation;

        // n01 (falsely) accuses n02; deliver the accusation to n03 as if gossiped.
        var packet = new WireWriter(64);
        packet.WriteByte(MessageCodec.ProtocolVersion);
        MessageCodec.WriteMessage(packet, GossipMessage.Suspect(incarnationBefore, "n02", "n01"));
        net.Inject(3, SimulatedNetwork.AddressOf(1), packet.ToArray());
        Assert.Equal(MemberState.Suspect, net.ViewOf(3, 2).State);

        net.RunFor(TimeSpan.FromSeconds(60));

        Assert.True(victim.Incarnation > incarnationBefore);
        Assert.True(victim.Counters.Refutations >= 1);
        Assert.Contains(net.Nodes[3].Events, e => e.Kind == MembershipEventKind.Alive && e.Member == "n02");
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MemberState.Alive, net.ViewOf(i, 2).State);
            Assert.DoesNotContain(net.Nodes[i].Events, e => e.Kind == MembershipEventKind.Dead);
        }
    }

    [Fact]
    public void Member_that_leaves_is_marked_left_not_dead()
    {
        var net = ConvergedCluster(seed: 3, size: 5);
        net.RunFor(TimeSpan.FromSeconds(5));
        net.Leave(4);
        net.RunUntil(() => net.Nodes[4].Node.PendingBroadcasts == 0, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100));
        net.Crash(4); // the process exits after its departure was gossiped
        net.RunFor(TimeSpan.FromSeconds(120));

        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(MemberState.Left, net.ViewOf(i, 4).State);
            Assert.Equal(4, net.Nodes[i].Node.LiveMemberCount);
            Assert.Contains(net.Nodes[i].Events, e => e.Kind == MembershipEventKind.Left && e.Member == "n04");
            Assert.DoesNotContain(net.Nodes[i].Events, e => e.Kind is MembershipEventKind.Dead or MembershipEventKind.Suspect);
        }
    }

    [Fact]
    public void Dead_member_is_not_resurrected_by_stale_gossip()
    {
        var net = ConvergedCluster(seed: 4, size: 5);
        net.RunFor(TimeSpan.FromSeconds(5));
        var staleIncarnation = net.Nodes[1].Node.Incarnation;
        net.Crash(1);
        net.RunFor(TimeSpan.FromSeconds(30));
        Assert.Equal(MemberState.Dead, net.ViewOf(0, 1).State);

        var packet = new WireWriter(64);
        packet.WriteByte(MessageCodec.ProtocolVersion);
        MessageCodec.WriteMessage(packet, GossipMessage.Alive(staleIncarnation, "n01", SimulatedNetwork.AddressOf(1), Metadata.Empty));
        net.Inject(0, SimulatedNetwork.AddressOf(2), packet.ToArray());
        net.RunFor(TimeSpan.FromSeconds(5));

        Assert.Equal(MemberState.Dead, net.ViewOf(0, 1).State);
        Assert.Equal(4, net.Nodes[0].Node.LiveMemberCount);
    }

    [Fact]
    public void Crashed_member_that_restarts_under_the_same_name_rejoins_above_its_tombstone()
    {
        var net = ConvergedCluster(seed: 5, size: 5);
        net.Crash(2);
        net.RunUntil(() => net.AllLiveViewsHave(4), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));
        var tombstone = net.ViewOf(0, 2);
        Assert.Equal(MemberState.Dead, tombstone.State);

        net.Restart(2, new MembershipOptions(), seed: 99);
        net.Act(2, (node, now) => node.Join(now, [SimulatedNetwork.AddressOf(0)]));
        var rejoined = net.RunUntil(() => net.AllLiveViewsHave(5), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

        Assert.NotNull(rejoined);
        Assert.True(net.Nodes[2].Node.Incarnation > tombstone.Incarnation);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(MemberState.Alive, net.ViewOf(i, 2).State);
        }

        Assert.Contains(net.Nodes[0].Events, e => e.Kind == MembershipEventKind.Joined && e.Member == "n02" && e.Incarnation > tombstone.Incarnation);
    }

    [Fact]
    public void Same_seed_replays_the_same_run()
    {
        static string Trace(int seed)
        {
            var net = new SimulatedNetwork(seed, 5, new MembershipOptions()) { LossRate = 0.05 };
            var trace = new System.Text.StringBuilder();
            net.OnEvent = (i, e) => trace.Append(i).Append(e.Kind).Append(e.Member).Append(e.Incarnation).Append(e.At.Ticks).Append(';');
            net.JoinAllThroughFirst();
            net.RunFor(TimeSpan.FromSeconds(20));
            net.Crash(2);
            net.RunFor(TimeSpan.FromSeconds(20));
            return trace.ToString();
        }

        Assert.Equal(Trace(7), Trace(7));
        Assert.NotEqual(Trace(7), Trace(8));
    }
}
