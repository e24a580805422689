namespace WalrusGossip.Membership.Tests;

public sealed class DisseminationTests(ITestOutputHelper output)
{
    [Fact]
    public void Metadata_update_on_one_of_64_members_reaches_all_within_log_n_protocol_periods()
    {
        const int size = 64;
        var net = FailureDetectionTests.ConvergedCluster(seed: 21, size);
        net.RunUntil(() => net.Nodes.All(n => n.Node.PendingBroadcasts == 0), TimeSpan.FromSeconds(120), TimeSpan.FromSeconds(1));
        var period = new MembershipOptions().ProbeInterval;
        var start = net.Now;

        net.Act(17, (node, now) => Assert.True(node.TryUpdateMetadata(now, new Dictionary<string, string>
        {
            [MetadataKeys.RaftRole] = "leader",
            [MetadataKeys.RaftTerm] = "7",
            [MetadataKeys.CommitIndex] = "123456",
        })));

        var done = net.RunUntil(
            () => Enumerable.Range(0, size).All(i => net.ViewOf(i, 17).Metadata.TryGetValue(MetadataKeys.RaftRole, out var role) && role == "leader"),
            period * 60,
            TimeSpan.FromMilliseconds(50));

        Assert.NotNull(done);
        var periods = (done.Value - start) / period;
        var bound = Math.Ceiling(Math.Log2(size)); // O(log n): 6 periods for 64 members
        output.WriteLine($"metadata update reached all {size} members in {periods:F2} protocol periods (bound {bound})");
        Assert.True(periods <= bound, $"{periods:F2} periods > bound {bound}");
        Assert.All(net.Nodes, n => Assert.Contains(n.Events, e => e.Kind == MembershipEventKind.Updated && e.Member == "n17"));
    }

    [Fact]
    public void Join_through_a_seed_builds_a_complete_view_on_every_member()
    {
        var net = new SimulatedNetwork(22, 16, new MembershipOptions());
        net.JoinAllThroughFirst();

        var done = net.RunUntil(() => net.AllLiveViewsHave(16), TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(100));

        Assert.NotNull(done);
        output.WriteLine($"16 members joined through one seed; complete views after {done.Value.TotalSeconds:F2} s");
        Assert.All(net.Nodes, n => Assert.Equal(16, n.Events.Count(e => e.Kind == MembershipEventKind.Joined)));
    }

    [Fact]
    public void Views_converge_within_three_push_pull_intervals_after_a_32_32_partition_heals()
    {
        const int size = 64;
        var options = new MembershipOptions();
        var net = FailureDetectionTests.ConvergedCluster(seed: 23, size, options);
        net.PartitionGroups = Enumerable.Range(0, size).Select(i => i < size / 2 ? 0 : 1).ToArray();

        var split = net.RunUntil(() => net.AllLiveViewsHave(size / 2), TimeSpan.FromSeconds(300), TimeSpan.FromSeconds(1));
        Assert.NotNull(split);
        output.WriteLine($"each side declared the other dead after {split.Value.TotalSeconds:F0} s of partition");
        net.RunFor(options.GossipToTheDeadTime * 2); // no more gossip to the dead: only push-pull and probes reconnect

        net.PartitionGroups = null;
        var healedAt = net.Now;
        var converged = net.RunUntil(
            () => net.AllLiveViewsHave(size) && net.Nodes.All(n => n.Node.GetSnapshot(net.Now).All(s => s.State == MemberState.Alive)),
            options.PushPullInterval * 10,
            TimeSpan.FromSeconds(1));

        Assert.NotNull(converged);
        var intervals = (converged.Value - healedAt) / options.PushPullInterval;
        output.WriteLine($"64 members, 32/32 partition healed: all views complete and alive after {intervals:F2} push-pull intervals");
        Assert.True(intervals <= 3, $"{intervals:F2} push-pull intervals");
    }
}
