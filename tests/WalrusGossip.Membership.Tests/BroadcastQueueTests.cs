namespace WalrusGossip.Membership.Tests;

public sealed class BroadcastQueueTests
{
    private static byte[] Update(string member, ulong incarnation) => MessageCodec.EncodeMessage(GossipMessage.Suspect(incarnation, member, "x"));

    [Fact]
    public void Each_update_is_sent_exactly_the_transmit_limit_times()
    {
        var queue = new BroadcastQueue(16);
        queue.Enqueue("a", Update("a", 1));
        var packet = new WireWriter(64);
        var sends = 0;

        while (queue.Count > 0)
        {
            packet.Clear();
            sends += queue.AppendTo(packet, 1400, transmitLimit: 4);
        }

        Assert.Equal(4, sends);
    }

    [Fact]
    public void Newer_update_about_a_member_replaces_the_queued_one()
    {
        var queue = new BroadcastQueue(16);
        queue.Enqueue("a", Update("a", 1));
        queue.Enqueue("a", Update("a", 2));
        var packet = new WireWriter(64);
        packet.WriteByte(MessageCodec.ProtocolVersion);

        queue.AppendTo(packet, 1400, 4);

        var message = Assert.Single(TestNodes.Decode(packet.ToArray()));
        Assert.Equal(2UL, message.Incarnation);
    }

    [Fact]
    public void Full_queue_drops_the_most_sent_update_and_counts_it()
    {
        var queue = new BroadcastQueue(2);
        queue.Enqueue("a", Update("a", 1));
        var packet = new WireWriter(64);
        queue.AppendTo(packet, 1400, 10);
        queue.Enqueue("b", Update("b", 1));
        queue.Enqueue("c", Update("c", 1));

        Assert.Equal(2, queue.Count);
        Assert.Equal(1, queue.Dropped);
        packet.Clear();
        packet.WriteByte(MessageCodec.ProtocolVersion);
        queue.AppendTo(packet, 1400, 10);
        Assert.Equal(["c", "b"], TestNodes.Decode(packet.ToArray()).Select(m => m.Member));
    }

    [Fact]
    public void Packets_never_exceed_the_size_limit()
    {
        var queue = new BroadcastQueue(1000);
        for (var i = 0; i < 500; i++)
        {
            queue.Enqueue($"member-{i}", Update($"member-{i}", (ulong)i));
        }

        var packet = new WireWriter(64);
        packet.WriteByte(MessageCodec.ProtocolVersion);
        var appended = queue.AppendTo(packet, 1400, 4);

        Assert.True(packet.Length <= 1400);
        Assert.True(appended > 10);
        Assert.Equal(appended, TestNodes.Decode(packet.ToArray()).Count);
    }

    [Fact]
    public void Transmit_limit_grows_with_log_of_cluster_size()
    {
        Assert.Equal(4, BroadcastQueue.TransmitLimit(4, 5));
        Assert.Equal(8, BroadcastQueue.TransmitLimit(4, 64));
        Assert.Equal(16, BroadcastQueue.TransmitLimit(4, 1000));
    }
}
