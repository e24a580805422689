namespace WalrusGossip.Membership.Tests;

/// <summary>Helpers for tests that drive one node by hand.</summary>
internal static class TestNodes
{
    public static MembershipNode Create(string name = "self", MembershipOptions? options = null, IReadOnlyDictionary<string, string>? metadata = null) =>
        new(name, name + ":7946", options ?? new MembershipOptions(), new Random(42), TimeSpan.Zero, metadata);

    /// <summary>A version-2 (MessagePack) datagram holding <paramref name="messages"/>.</summary>
    public static byte[] Datagram(params GossipMessage[] messages)
    {
        var writer = new WireWriter(128);
        writer.WriteByte(MessageCodec.ProtocolVersion);
        foreach (var message in messages)
        {
            MessageCodec.WriteMessage(writer, message);
        }

        return writer.ToArray();
    }

    /// <summary>A version-1 datagram (the format of releases up to 0.3) holding <paramref name="messages"/>.</summary>
    public static byte[] LegacyDatagram(params GossipMessage[] messages)
    {
        var writer = new WireWriter(128);
        writer.WriteByte(LegacyMessageCodec.ProtocolVersion);
        foreach (var message in messages)
        {
            LegacyMessageCodec.WriteFramed(writer, message);
        }

        return writer.ToArray();
    }

    public static Dictionary<string, string> Meta(params (string Key, string Value)[] pairs)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in pairs)
        {
            map[key] = value;
        }

        return map;
    }

    public static List<OutboundMessage> Sent(MembershipNode node)
    {
        var sent = new List<OutboundMessage>();
        node.DrainMessages(sent);
        return sent;
    }

    public static List<GossipMessage> LegacyDecode(byte[] datagram)
    {
        var messages = new List<GossipMessage>();
        Assert.Equal(DecodeStatus.Ok, LegacyMessageCodec.DecodeDatagram(datagram, 1024, messages, out _, out _));
        return messages;
    }

    public static List<GossipMessage> Decode(byte[] datagram)
    {
        var messages = new List<GossipMessage>();
        Assert.Equal(DecodeStatus.Ok, MessageCodec.DecodeDatagram(datagram, 1024, messages, out _, out _));
        return messages;
    }
}
