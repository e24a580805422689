namespace WalrusGossip.Membership.Tests;

public sealed class LegacyMessageCodecTests
{
    public static TheoryData<int> MessageKinds => [0, 1, 2, 3, 4, 5, 6, 7];

    private static GossipMessage Sample(int kind) => kind switch
    {
        0 => GossipMessage.Ping(7, "target", "source", "10.0.0.1:7946"),
        1 => GossipMessage.PingReq(uint.MaxValue, "target", "10.0.0.2:7946", "source", wantNack: true),
        2 => GossipMessage.Ack(0),
        3 => GossipMessage.Nack(300),
        4 => GossipMessage.Suspect(ulong.MaxValue, "m", "accuser"),
        5 => GossipMessage.Dead(5, "m", "accuser"),
        6 => GossipMessage.Left(9, "m"),
        _ => GossipMessage.Alive(3, "m", "10.0.0.3:7946", TestNodes.Meta(("raft_role", "leader"), ("ünïcode", "✓"))),
    };

    [Theory]
    [MemberData(nameof(MessageKinds))]
    public void Every_message_type_round_trips(int kind)
    {
        var original = Sample(kind);
        var bytes = TestNodes.LegacyDatagram(original);

        var decoded = Assert.Single(TestNodes.LegacyDecode(bytes));

        Assert.Equal(original.Type, decoded.Type);
        Assert.Equal(original.Seq, decoded.Seq);
        Assert.Equal(original.Incarnation, decoded.Incarnation);
        Assert.Equal(original.Member, decoded.Member);
        Assert.Equal(original.Address, decoded.Address);
        Assert.Equal(original.From, decoded.From);
        Assert.Equal(original.WantNack, decoded.WantNack);
        if (original.Metadata is not null)
        {
            var metadata = LegacyMessageCodec.ReadMetadata(bytes.AsSpan(decoded.MetadataStart, decoded.MetadataLength), pool: null);
            Assert.True(Metadata.AreEqual(original.Metadata, metadata!));
        }
    }

    [Fact]
    public void Push_pull_round_trips_every_member_state()
    {
        var entries = new List<PushPullEntry>
        {
            new("a", "a:1", 1, MemberState.Alive, TestNodes.Meta(("k", "v"))),
            new("b", "b:1", 2, MemberState.Suspect, Metadata.Empty),
            new("c", "c:1", 3, MemberState.Dead, Metadata.Empty),
            new("d", "d:1", 4, MemberState.Left, Metadata.Empty),
        };

        var bytes = LegacyMessageCodec.EncodePushPull(join: true, response: false, "a", entries);
        var decoded = new List<PushPullEntry>();
        var status = LegacyMessageCodec.DecodePushPull(bytes, 512, decoded, out var flags, out var from, out var tooLarge);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(LegacyMessageCodec.PushPullJoinFlag, flags);
        Assert.Equal("a", from);
        Assert.Equal(0, tooLarge);
        Assert.Equal(entries.Select(e => (e.Name, e.Address, e.Incarnation, e.State)), decoded.Select(e => (e.Name, e.Address, e.Incarnation, e.State)));
        Assert.Equal("v", LegacyMessageCodec.ReadMetadata(bytes.AsSpan(decoded[0].MetadataStart, decoded[0].MetadataLength), pool: null)!["k"]);
    }

    [Fact]
    public void Every_truncation_of_a_datagram_is_rejected_or_ends_on_a_message_boundary()
    {
        var first = LegacyMessageCodec.EncodeFramed(Sample(0));
        var bytes = TestNodes.LegacyDatagram(Sample(0), Sample(7));

        for (var length = 0; length < bytes.Length; length++)
        {
            var messages = new List<GossipMessage>();
            var status = LegacyMessageCodec.DecodeDatagram(bytes.AsSpan(0, length), 512, messages, out _, out _);
            var boundary = length == 1 + first.Length;
            Assert.Equal(boundary ? DecodeStatus.Ok : DecodeStatus.Malformed, status);
            Assert.Equal(boundary ? 1 : 0, messages.Count);
        }
    }

    [Fact]
    public void Every_truncation_of_a_push_pull_is_rejected()
    {
        var bytes = LegacyMessageCodec.EncodePushPull(false, true, "a", [new("a", "a:1", 1, MemberState.Alive, TestNodes.Meta(("k", "v")))]);

        for (var length = 0; length < bytes.Length; length++)
        {
            var entries = new List<PushPullEntry>();
            Assert.Equal(DecodeStatus.Malformed, LegacyMessageCodec.DecodePushPull(bytes.AsSpan(0, length), 512, entries, out _, out _, out _));
            Assert.Empty(entries);
        }
    }

    [Fact]
    public void Unknown_message_types_are_skipped_by_length_and_counted()
    {
        var bytes = TestNodes.LegacyDatagram(Sample(2)).Concat(new byte[] { 200, 3, 1, 2, 3 }).Concat(LegacyMessageCodec.EncodeFramed(Sample(3))).ToArray();
        var messages = new List<GossipMessage>();

        var status = LegacyMessageCodec.DecodeDatagram(bytes, 512, messages, out var unknown, out _);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(1, unknown);
        Assert.Equal([MessageType.Ack, MessageType.Nack], messages.Select(m => m.Type));
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 3, 3, 1, 0 })] // unknown protocol version
    [InlineData(new byte[] { 1 })] // version only
    [InlineData(new byte[] { 1, 3, 11, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01 })] // overlong varint
    [InlineData(new byte[] { 1, 3, 6, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01 })] // sequence above uint32
    [InlineData(new byte[] { 1, 3, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F })] // body length beyond the datagram
    [InlineData(new byte[] { 1, 8, 4, 1, 2, 0xC3, 0x28 })] // invalid UTF-8 in a name
    [InlineData(new byte[] { 1, 8, 2, 1, 0 })] // empty member name
    [InlineData(new byte[] { 1, 3, 2, 1, 0 })] // trailing bytes inside a body
    [InlineData(new byte[] { 1, 2, 12, 1, 1, (byte)'t', 1, (byte)'a', 1, (byte)'s', 2 })] // want-nack flag not 0/1 (and short)
    public void Malformed_datagrams_are_rejected_without_throwing(byte[] bytes)
    {
        var messages = new List<GossipMessage>();

        Assert.Equal(DecodeStatus.Malformed, LegacyMessageCodec.DecodeDatagram(bytes, 512, messages, out _, out _));
        Assert.Empty(messages);
    }

    [Fact]
    public void Alive_with_metadata_over_the_limit_decodes_without_metadata_and_is_counted()
    {
        var big = TestNodes.Meta(("blob", new string('x', 600)));
        var messages = new List<GossipMessage>();

        var status = LegacyMessageCodec.DecodeDatagram(TestNodes.LegacyDatagram(GossipMessage.Alive(1, "m", "m:1", big)), 512, messages, out _, out var tooLarge);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(1, tooLarge);
        Assert.True(Assert.Single(messages).MetadataTooLarge);
    }

    [Fact]
    public void Random_bytes_and_bit_flips_never_throw()
    {
        var random = new Random(5);
        var valid = TestNodes.LegacyDatagram(Sample(0), Sample(1), Sample(4), Sample(7));
        var pushPull = LegacyMessageCodec.EncodePushPull(false, false, "a", [new("a", "a:1", 1, MemberState.Alive, TestNodes.Meta(("k", "v")))]);
        var messages = new List<GossipMessage>();
        var entries = new List<PushPullEntry>();
        for (var i = 0; i < 20_000; i++)
        {
            var bytes = i % 2 == 0 ? valid.ToArray() : pushPull.ToArray();
            if (i % 4 < 2)
            {
                bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
            }
            else
            {
                bytes = new byte[random.Next(64)];
                random.NextBytes(bytes);
                if (bytes.Length > 0)
                {
                    bytes[0] = LegacyMessageCodec.ProtocolVersion;
                }
            }

            messages.Clear();
            entries.Clear();
            LegacyMessageCodec.DecodeDatagram(bytes, 512, messages, out _, out _);
            LegacyMessageCodec.DecodePushPull(bytes, 512, entries, out _, out _, out _);
        }
    }
}
