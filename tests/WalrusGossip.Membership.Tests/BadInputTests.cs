namespace WalrusGossip.Membership.Tests;

public sealed class BadInputTests
{
    [Fact]
    public void Oversized_datagram_is_dropped_counted_and_logged()
    {
        var node = TestNodes.Create();

        node.ReceiveDatagram(TimeSpan.Zero, "x:1", new byte[1401]);

        Assert.Equal(1, node.Counters.OversizedMessages);
        Assert.Empty(TestNodes.Sent(node));
        var log = new List<MembershipLogEntry>();
        node.DrainLog(log);
        Assert.Contains(log, l => l.Level == MembershipLogLevel.Warning && l.Message.Contains("1401", StringComparison.Ordinal));
    }

    [Fact]
    public void Truncated_datagrams_are_counted_as_malformed_and_change_nothing()
    {
        var node = TestNodes.Create();
        var bytes = TestNodes.Datagram(GossipMessage.Alive(1, "other", "other:1", TestNodes.Meta(("k", "v"))));

        for (var length = 0; length < bytes.Length; length++)
        {
            node.ReceiveDatagram(TimeSpan.Zero, "other:1", bytes.AsMemory(0, length));
        }

        Assert.Equal(bytes.Length, node.Counters.MalformedMessages);
        Assert.Equal(1, node.LiveMemberCount);
    }

    [Fact]
    public void Unknown_message_type_is_skipped_and_the_rest_of_the_datagram_is_used()
    {
        var node = TestNodes.Create();
        var bytes = TestNodes.Datagram(GossipMessage.Ping(5, "self", "other", "other:1"))
            .Concat(new byte[] { 0x93, 77, 0, 0 }) // [77, 0, 0]: a type this release does not know
            .ToArray();

        node.ReceiveDatagram(TimeSpan.Zero, "other:1", bytes);

        Assert.Equal(1, node.Counters.UnknownMessageTypes);
        var ack = Assert.Single(TestNodes.Sent(node));
        Assert.Equal("other:1", ack.To);
        Assert.Equal(MessageType.Ack, TestNodes.Decode(ack.Payload)[0].Type);
    }

    [Fact]
    public void Claim_of_a_higher_incarnation_for_the_local_node_is_refuted()
    {
        var node = TestNodes.Create();

        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.Datagram(GossipMessage.Alive(5, "self", "evil:1", Metadata.Empty)));

        Assert.Equal(6UL, node.Incarnation);
        Assert.Equal(1, node.Counters.Refutations);
        Assert.Equal("self:7946", node.Address);
        Assert.Equal(1, node.PendingBroadcasts);
    }

    [Fact]
    public void Suspicion_and_death_of_the_local_node_are_refuted()
    {
        var node = TestNodes.Create();

        node.ReceiveDatagram(TimeSpan.Zero, "a:1", TestNodes.Datagram(GossipMessage.Suspect(0, "self", "a")));
        node.ReceiveDatagram(TimeSpan.Zero, "a:1", TestNodes.Datagram(GossipMessage.Dead(1, "self", "a")));

        Assert.Equal(2UL, node.Incarnation);
        Assert.Equal(2, node.Counters.Refutations);
        Assert.Equal(MemberState.Alive, node.GetSnapshot(TimeSpan.Zero).Single(s => s.IsLocal).State);
    }

    [Fact]
    public void Remote_metadata_over_the_limit_is_ignored_and_counted()
    {
        var node = TestNodes.Create();
        var big = TestNodes.Meta(("blob", new string('x', 600)));

        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.Datagram(GossipMessage.Alive(1, "other", "other:1", big)));
        var pushPull = MessageCodec.EncodePushPull(false, true, "other", [new PushPullEntry("other", "other:1", 1, MemberState.Alive, big)]);
        node.ReceiveStream(TimeSpan.Zero, "other:1", pushPull);

        Assert.Equal(2, node.Counters.MetadataTooLarge);
        Assert.Equal(1, node.LiveMemberCount);
    }

    [Fact]
    public void Metadata_with_a_repeated_key_is_rejected_as_malformed()
    {
        var node = TestNodes.Create();
        // Alive: incarnation 1, "other", empty address, metadata section of 9 bytes: 2 pairs, ("k","a"), ("k","b").
        byte[] bytes = [1, 6, 0, 1, 5, (byte)'o', (byte)'t', (byte)'h', (byte)'e', (byte)'r', 0, 9, 2, 1, (byte)'k', 1, (byte)'a', 1, (byte)'k', 1, (byte)'b'];
        bytes[2] = (byte)(bytes.Length - 3);

        node.ReceiveDatagram(TimeSpan.Zero, "o:1", bytes);

        Assert.Equal(1, node.Counters.MalformedMessages);
        Assert.Equal(1, node.LiveMemberCount);
        var log = new List<MembershipLogEntry>();
        node.DrainLog(log);
        Assert.Contains(log, l => l.Message.Contains("repeats a key", StringComparison.Ordinal));
    }

    [Fact]
    public void Stale_gossip_about_a_known_member_is_handled_without_allocating()
    {
        var node = TestNodes.Create();
        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.Datagram(GossipMessage.Alive(5, "other", "other:1", TestNodes.Meta(("k", "v")))));
        var stale = TestNodes.Datagram(
            GossipMessage.Alive(4, "other", "other:1", TestNodes.Meta(("k", "old"))),
            GossipMessage.Suspect(3, "other", "self"),
            GossipMessage.Ack(99));
        for (var i = 0; i < 10; i++)
        {
            node.ReceiveDatagram(TimeSpan.Zero, "other:1", stale);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            node.ReceiveDatagram(TimeSpan.Zero, "other:1", stale);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void Local_metadata_over_the_limit_is_refused()
    {
        var node = TestNodes.Create();

        Assert.False(node.TryUpdateMetadata(TimeSpan.Zero, TestNodes.Meta(("blob", new string('x', 600)))));
        Assert.False(node.TryUpdateMetadata(TimeSpan.Zero, TestNodes.Meta(("", "empty key"))));

        Assert.Equal(2, node.Counters.LocalMetadataRefused);
        Assert.Equal(0UL, node.Incarnation);
        Assert.True(node.TryUpdateMetadata(TimeSpan.Zero, TestNodes.Meta((MetadataKeys.RaftRole, "follower"))));
        Assert.Equal(1UL, node.Incarnation);
    }

    [Fact]
    public void Malformed_and_oversized_push_pull_is_counted()
    {
        var node = TestNodes.Create(options: new MembershipOptions { MaxStreamMessageBytes = 4096 });

        node.ReceiveStream(TimeSpan.Zero, "x:1", new byte[] { 1, 9, 0, 1, (byte)'x', 5 });
        node.ReceiveStream(TimeSpan.Zero, "x:1", new byte[5000]);

        Assert.Equal(1, node.Counters.MalformedMessages);
        Assert.Equal(1, node.Counters.OversizedMessages);
        Assert.Empty(TestNodes.Sent(node));
    }

    [Fact]
    public void Ping_for_another_member_name_is_ignored_and_counted()
    {
        var node = TestNodes.Create();

        node.ReceiveDatagram(TimeSpan.Zero, "other:1", TestNodes.Datagram(GossipMessage.Ping(1, "someone-else", "other", "other:1")));

        Assert.Equal(1, node.Counters.MisdirectedPings);
        Assert.Empty(TestNodes.Sent(node));
    }

    [Fact]
    public void Time_going_backwards_is_counted_and_ignored()
    {
        var node = TestNodes.Create();
        node.Tick(TimeSpan.FromSeconds(10));

        node.Tick(TimeSpan.FromSeconds(5));

        Assert.Equal(1, node.Counters.ClockRegressions);
        Assert.True(node.NextDeadline > TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Random_garbage_from_the_network_never_throws_out_of_the_node()
    {
        var random = new Random(9);
        var node = TestNodes.Create();
        node.ReceiveDatagram(TimeSpan.Zero, "a:1", TestNodes.Datagram(GossipMessage.Alive(1, "a", "a:1", Metadata.Empty)));
        var valid = TestNodes.Datagram(
            GossipMessage.Ping(1, "self", "a", "a:1"),
            GossipMessage.Suspect(1, "a", "b"),
            GossipMessage.Alive(2, "b", "b:1", TestNodes.Meta(("k", "v"))));
        var now = TimeSpan.Zero;
        for (var i = 0; i < 20_000; i++)
        {
            now += TimeSpan.FromMilliseconds(10);
            var bytes = valid.ToArray();
            bytes[1 + random.Next(bytes.Length - 1)] = (byte)random.Next(256);
            node.ReceiveDatagram(now, "a:1", bytes);
            var stream = new byte[random.Next(40)];
            random.NextBytes(stream);
            node.ReceiveStream(now, "a:1", stream);
            TestNodes.Sent(node);
        }

        Assert.True(node.Counters.MalformedMessages > 0);
        Assert.Equal(20_001, node.Counters.DatagramsReceived);
    }

    [Fact]
    public void Undrained_log_lines_are_bounded()
    {
        var node = TestNodes.Create(options: new MembershipOptions { MaxPendingLogEntries = 10 });

        for (var i = 0; i < 50; i++)
        {
            node.ReceiveDatagram(TimeSpan.Zero, "x:1", new byte[] { 9 });
        }

        var log = new List<MembershipLogEntry>();
        Assert.Equal(10, node.DrainLog(log));
        Assert.Equal(40, node.Counters.LogEntriesDropped);
    }
}
