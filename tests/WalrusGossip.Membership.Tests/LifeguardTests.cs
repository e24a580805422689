namespace WalrusGossip.Membership.Tests;

public sealed class LifeguardTests(ITestOutputHelper output)
{
    private const int Periods = 10_000;

    /// <summary>
    /// Runs 5 live members at 5% datagram loss. Every dead event is false (nobody crashes):
    /// returns dead events summed over observers, distinct members-at-incarnation declared dead,
    /// suspect events, refutations, and whether every view was complete at the end.
    /// </summary>
    private static (int DeadEvents, int FalseDeaths, int Suspicions, long Refutations, bool Complete) RunLossy(bool lifeguard, int seed)
    {
        var options = new MembershipOptions { LifeguardEnabled = lifeguard };
        var net = FailureDetectionTests.ConvergedCluster(seed, 5, options);
        net.LossRate = 0.05;
        var deadEvents = 0;
        var declared = new HashSet<(string, ulong)>();
        var suspicions = 0;
        net.OnEvent = (_, e) =>
        {
            if (e.Kind == MembershipEventKind.Dead)
            {
                deadEvents++;
                declared.Add((e.Member, e.Incarnation));
            }
            else if (e.Kind == MembershipEventKind.Suspect)
            {
                suspicions++;
            }
        };

        net.RunFor(options.ProbeInterval * Periods);
        net.LossRate = 0;
        net.RunFor(options.PushPullInterval * 2);
        return (deadEvents, declared.Count, suspicions, net.Nodes.Sum(n => n.Node.Counters.Refutations), net.AllLiveViewsHave(5));
    }

    [Fact]
    public void Five_percent_loss_with_lifeguard_declares_no_live_member_dead_in_ten_thousand_periods()
    {
        var (deadEvents, falseDeaths, suspicions, refutations, complete) = RunLossy(lifeguard: true, seed: 11);

        output.WriteLine($"Lifeguard on, 5 members, 5% loss, {Periods} periods: {falseDeaths} members wrongly declared dead ({deadEvents} dead events over all observers), {suspicions} suspect events, {refutations} refutations");
        Assert.Equal(0, deadEvents);
        Assert.True(complete);
    }

    [Fact]
    public void Five_percent_loss_without_lifeguard_is_measured_for_comparison()
    {
        var (deadEvents, falseDeaths, suspicions, refutations, complete) = RunLossy(lifeguard: false, seed: 11);

        output.WriteLine($"Lifeguard off, 5 members, 5% loss, {Periods} periods: {falseDeaths} members wrongly declared dead ({deadEvents} dead events over all observers), {suspicions} suspect events, {refutations} refutations; views complete again afterwards: {complete}");
    }

    [Fact]
    public void Suspicion_timeout_starts_at_max_and_reaches_min_after_k_confirmations()
    {
        var min = TimeSpan.FromMilliseconds(1400);
        var max = min * 6;
        var suspicion = new Suspicion("a", k: 2, min, max, TimeSpan.Zero);

        Assert.Equal(max, suspicion.Deadline);
        Assert.False(suspicion.Confirm("a"));
        Assert.True(suspicion.Confirm("b"));
        Assert.True(suspicion.Deadline < max && suspicion.Deadline > min);
        Assert.False(suspicion.Confirm("b"));
        Assert.True(suspicion.Confirm("c"));
        Assert.Equal(min, suspicion.Deadline);
        Assert.True(suspicion.Confirm("d"));
        Assert.Equal(min, suspicion.Deadline);
        Assert.Equal(2, suspicion.Confirmations);
    }

    [Fact]
    public void Without_confirmations_to_wait_for_the_timeout_is_the_minimum()
    {
        var min = TimeSpan.FromSeconds(2);
        var suspicion = new Suspicion("a", k: 0, min, min * 6, TimeSpan.FromSeconds(10));

        Assert.Equal(TimeSpan.FromSeconds(12), suspicion.Deadline);
    }

    [Fact]
    public void Minimum_suspicion_timeout_is_memberlists_multiplier_times_log10_n_floored_at_one_times_the_probe_interval()
    {
        var interval = TimeSpan.FromMilliseconds(400);

        // memberlist's suspicionTimeout: up to ten members, log10(n) is floored at 1.
        Assert.Equal(TimeSpan.FromMilliseconds(4 * 400), Suspicion.MinTimeout(4, 1, interval));
        Assert.Equal(TimeSpan.FromMilliseconds(4 * 400), Suspicion.MinTimeout(4, 2, interval));
        Assert.Equal(TimeSpan.FromMilliseconds(4 * 400), Suspicion.MinTimeout(4, 5, interval));
        Assert.Equal(TimeSpan.FromMilliseconds(4 * 400), Suspicion.MinTimeout(4, 10, interval));
        Assert.Equal(4 * Math.Log10(50) * 400, Suspicion.MinTimeout(4, 50, interval).TotalMilliseconds, 1);
        Assert.Equal(TimeSpan.FromMilliseconds(4 * 2 * 400), Suspicion.MinTimeout(4, 100, interval));
    }

    [Fact]
    public void Local_health_score_rises_only_on_the_node_that_misses_its_acks_and_nacks()
    {
        var net = FailureDetectionTests.ConvergedCluster(seed: 12, size: 5);
        net.RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal(0, net.Nodes[0].Node.LocalHealthScore);

        // n00 is cut off: every probe it runs fails and none of its ping-reqs is answered with a nack,
        // while the others' failed probes of n00 are nacked by their intermediaries.
        net.PartitionGroups = [0, 1, 1, 1, 1];
        net.RunFor(TimeSpan.FromSeconds(10));

        Assert.True(net.Nodes[0].Node.LocalHealthScore >= 3, $"score {net.Nodes[0].Node.LocalHealthScore}");
        Assert.All(net.Nodes.Skip(1), n => Assert.Equal(0, n.Node.LocalHealthScore));

        net.PartitionGroups = null;
        net.RunFor(TimeSpan.FromSeconds(120));
        Assert.Equal(0, net.Nodes[0].Node.LocalHealthScore);
    }

    [Fact]
    public void Local_health_is_not_used_when_lifeguard_is_off()
    {
        var net = FailureDetectionTests.ConvergedCluster(seed: 13, size: 5, new MembershipOptions { LifeguardEnabled = false });
        net.PartitionGroups = [0, 1, 1, 1, 1];
        net.RunFor(TimeSpan.FromSeconds(10));

        Assert.Equal(0, net.Nodes[0].Node.LocalHealthScore);
    }
}
