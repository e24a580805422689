using MessagePack;

namespace WalrusGossip.Membership.Tests;

/// <summary>Gossip protocol version 2 (MessagePack); <see cref="LegacyMessageCodecTests"/> covers version 1.</summary>
public sealed class MessageCodecTests
{
    private delegate void WriteValues(ref MessagePackWriter writer);

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

    /// <summary>Hand-written msgpack: the given values, after the version byte unless told otherwise.</summary>
    private static byte[] Msgpack(WriteValues write, bool versionByte = true)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        if (versionByte)
        {
            buffer.GetSpan(1)[0] = MessageCodec.ProtocolVersion;
            buffer.Advance(1);
        }

        var writer = new MessagePackWriter(buffer);
        write(ref writer);
        writer.Flush();
        return buffer.WrittenSpan.ToArray();
    }

    [Theory]
    [MemberData(nameof(MessageKinds))]
    public void Every_message_type_round_trips(int kind)
    {
        var original = Sample(kind);
        var bytes = TestNodes.Datagram(original);

        var decoded = Assert.Single(TestNodes.Decode(bytes));

        Assert.Equal(original.Type, decoded.Type);
        Assert.Equal(original.Seq, decoded.Seq);
        Assert.Equal(original.Incarnation, decoded.Incarnation);
        Assert.Equal(original.Member, decoded.Member);
        Assert.Equal(original.Address, decoded.Address);
        Assert.Equal(original.From, decoded.From);
        Assert.Equal(original.WantNack, decoded.WantNack);
        if (original.Metadata is not null)
        {
            var metadata = MessageCodec.ReadMetadata(bytes.AsMemory(decoded.MetadataStart, decoded.MetadataLength), pool: null);
            Assert.True(Metadata.AreEqual(original.Metadata, metadata!));
        }
    }

    [Fact]
    public void A_message_is_a_plain_msgpack_array_any_msgpack_reader_can_read()
    {
        var bytes = TestNodes.Datagram(GossipMessage.Suspect(42, "n02", "n01"));

        Assert.Equal(MessageCodec.ProtocolVersion, bytes[0]);
        var reader = new MessagePackReader(bytes.AsMemory(1));
        Assert.Equal(4, reader.ReadArrayHeader());
        Assert.Equal(5, reader.ReadInt32()); // Suspect
        Assert.Equal(42UL, reader.ReadUInt64());
        Assert.Equal("n02", reader.ReadString());
        Assert.Equal("n01", reader.ReadString());
        Assert.True(reader.End);
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

        var bytes = MessageCodec.EncodePushPull(join: true, response: false, "a", entries);
        var decoded = new List<PushPullEntry>();
        var status = MessageCodec.DecodePushPull(bytes, 512, decoded, out var flags, out var from, out var tooLarge);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(LegacyMessageCodec.PushPullJoinFlag, flags);
        Assert.Equal("a", from);
        Assert.Equal(0, tooLarge);
        Assert.Equal(entries.Select(e => (e.Name, e.Address, e.Incarnation, e.State)), decoded.Select(e => (e.Name, e.Address, e.Incarnation, e.State)));
        Assert.Equal("v", MessageCodec.ReadMetadata(bytes.AsMemory(decoded[0].MetadataStart, decoded[0].MetadataLength), pool: null)!["k"]);
    }

    [Fact]
    public void Every_truncation_of_a_datagram_is_rejected_or_ends_on_a_message_boundary()
    {
        var first = MessageCodec.EncodeMessage(Sample(0));
        var bytes = TestNodes.Datagram(Sample(0), Sample(7));

        for (var length = 0; length < bytes.Length; length++)
        {
            var messages = new List<GossipMessage>();
            var status = MessageCodec.DecodeDatagram(bytes.AsMemory(0, length), 512, messages, out _, out _);
            var boundary = length == 1 + first.Length;
            Assert.Equal(boundary ? DecodeStatus.Ok : DecodeStatus.Malformed, status);
            Assert.Equal(boundary ? 1 : 0, messages.Count);
        }
    }

    [Fact]
    public void Every_truncation_of_a_push_pull_is_rejected()
    {
        var bytes = MessageCodec.EncodePushPull(false, true, "a", [new("a", "a:1", 1, MemberState.Alive, TestNodes.Meta(("k", "v")))]);

        for (var length = 0; length < bytes.Length; length++)
        {
            var entries = new List<PushPullEntry>();
            Assert.Equal(DecodeStatus.Malformed, MessageCodec.DecodePushPull(bytes.AsMemory(0, length), 512, entries, out _, out _, out _));
            Assert.Empty(entries);
        }
    }

    [Fact]
    public void Unknown_message_types_are_skipped_whole_and_counted()
    {
        var unknown = Msgpack(
            (ref MessagePackWriter w) =>
            {
                w.WriteArrayHeader(3);
                w.Write(200);
                w.Write("a field of a later release");
                w.WriteMapHeader(1);
                w.Write("nested");
                w.WriteArrayHeader(2);
                w.Write(1);
                w.Write(2);
            },
            versionByte: false);
        var bytes = TestNodes.Datagram(Sample(2)).Concat(unknown).Concat(MessageCodec.EncodeMessage(Sample(3))).ToArray();
        var messages = new List<GossipMessage>();

        var status = MessageCodec.DecodeDatagram(bytes, 512, messages, out var unknownTypes, out _);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(1, unknownTypes);
        Assert.Equal([MessageType.Ack, MessageType.Nack], messages.Select(m => m.Type));
    }

    [Fact]
    public void Fields_a_later_release_appends_are_skipped()
    {
        var bytes = Msgpack((ref MessagePackWriter w) =>
        {
            w.WriteArrayHeader(6);
            w.Write((byte)MessageType.Suspect);
            w.Write(7UL);
            w.Write("m");
            w.Write("accuser");
            w.Write(true); // new trailing fields
            w.WriteArrayHeader(1);
            w.Write("x");
        });

        var message = Assert.Single(TestNodes.Decode(bytes));

        Assert.Equal((MessageType.Suspect, 7UL, "m", "accuser"), (message.Type, message.Incarnation, message.Member, message.From));
    }

    public static TheoryData<string, byte[]> MalformedDatagrams => new()
    {
        { "empty", [] },
        { "version only", [MessageCodec.ProtocolVersion] },
        { "unknown version", [3, 0x92, 3, 0] },
        { "not an array", Msgpack((ref MessagePackWriter w) => w.Write(3)) },
        { "array of nothing", Msgpack((ref MessagePackWriter w) => w.WriteArrayHeader(0)) },
        { "type is a string", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(2); w.Write("ack"); w.Write(1); }) },
        { "too few fields", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(2); w.Write((byte)MessageType.Suspect); w.Write(1); }) },
        { "seq above uint32", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(2); w.Write((byte)MessageType.Ack); w.Write(1UL << 40); }) },
        { "negative seq", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(2); w.Write((byte)MessageType.Ack); w.Write(-1); }) },
        { "name is nil", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(3); w.Write((byte)MessageType.Left); w.Write(1); w.WriteNil(); }) },
        { "empty member name", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(3); w.Write((byte)MessageType.Left); w.Write(1); w.Write(""); }) },
        { "name over 255 bytes", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(3); w.Write((byte)MessageType.Left); w.Write(1); w.Write(new string('n', 256)); }) },
        { "invalid UTF-8 in a name", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(3); w.Write((byte)MessageType.Left); w.Write(1); w.WriteString([0xC3, 0x28]); }) },
        { "want-nack not a bool", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(6); w.Write((byte)MessageType.PingReq); w.Write(1); w.Write("t"); w.Write("a"); w.Write("s"); w.Write(2); }) },
        { "metadata not a map", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write((byte)MessageType.Alive); w.Write(1); w.Write("m"); w.Write("m:1"); w.WriteArrayHeader(0); }) },
        { "metadata value not a string", Msgpack((ref MessagePackWriter w) => { w.WriteArrayHeader(5); w.Write((byte)MessageType.Alive); w.Write(1); w.Write("m"); w.Write("m:1"); w.WriteMapHeader(1); w.Write("k"); w.Write(5); }) },
        { "array count beyond the datagram", [MessageCodec.ProtocolVersion, 0xDD, 0x7F, 0xFF, 0xFF, 0xFF, 3, 0] },
        { "reserved code 0xC1", [MessageCodec.ProtocolVersion, 0x92, 3, 0xC1] },
        { "str of an unknown field runs past the end", [MessageCodec.ProtocolVersion, 0x93, 3, 0, 0xD9, 200, (byte)'x'] },
        {
            "unknown field nested too deep",
            Msgpack((ref MessagePackWriter w) =>
            {
                w.WriteArrayHeader(3);
                w.Write((byte)MessageType.Ack);
                w.Write(1);
                for (var i = 0; i < MessageCodec.MaxSkipDepth + 1; i++)
                {
                    w.WriteArrayHeader(1);
                }

                w.Write(0);
            })
        },
    };

    [Theory]
    [MemberData(nameof(MalformedDatagrams))]
    public void Malformed_datagrams_are_rejected_without_throwing(string what, byte[] bytes)
    {
        var messages = new List<GossipMessage>();

        Assert.True(DecodeStatus.Malformed == MessageCodec.DecodeDatagram(bytes, 512, messages, out _, out _), what);
        Assert.Empty(messages);
    }

    [Fact]
    public void A_nesting_bomb_is_rejected_without_exhausting_the_stack()
    {
        // A push-pull whose trailing field is [[[[...: four million nested one-element arrays; and a datagram whose
        // message of an unknown type carries the same.
        byte[] pushPullHead = [MessageCodec.ProtocolVersion, 0x95, (byte)MessageType.PushPull, 0, 0xA1, (byte)'a', 0x90];
        byte[] datagramHead = [MessageCodec.ProtocolVersion, 0x92, 0xCC, 200];
        var entries = new List<PushPullEntry>();
        foreach (var head in new[] { pushPullHead, datagramHead })
        {
            var bytes = new byte[4 * 1024 * 1024];
            bytes.AsSpan().Fill(0x91);
            head.CopyTo(bytes, 0);

            Assert.Equal(DecodeStatus.Malformed, MessageCodec.DecodePushPull(bytes, 512, entries, out _, out _, out _));
            Assert.Equal(DecodeStatus.Malformed, MessageCodec.DecodeDatagram(bytes, 512, [], out _, out _));
        }
    }

    [Fact]
    public void Alive_with_metadata_over_the_limit_decodes_without_metadata_and_is_counted()
    {
        var big = TestNodes.Meta(("blob", new string('x', 600)));
        var messages = new List<GossipMessage>();

        var status = MessageCodec.DecodeDatagram(TestNodes.Datagram(GossipMessage.Alive(1, "m", "m:1", big)), 512, messages, out _, out var tooLarge);

        Assert.Equal(DecodeStatus.Ok, status);
        Assert.Equal(1, tooLarge);
        Assert.True(Assert.Single(messages).MetadataTooLarge);
    }

    [Fact]
    public void The_largest_alive_fits_one_datagram()
    {
        // Longest name and address, metadata right at the 512-byte limit: SWIM must still carry it in one datagram
        // (the ping it would ride on goes alone when the two do not fit together).
        var name = new string('n', 255);
        var metadata = TestNodes.Meta(("k", new string('v', 400)), ("role", new string('r', 90)));
        Assert.True(Metadata.IsEncodable(metadata, 512), $"metadata of {MessageCodec.MetadataSize(metadata)} bytes");

        var datagram = TestNodes.Datagram(GossipMessage.Alive(ulong.MaxValue, name, new string('a', 255), metadata));

        Assert.True(datagram.Length <= new MembershipOptions().MaxDatagramBytes, $"{datagram.Length} bytes");
        Assert.Equal(MessageCodec.MetadataSize(metadata), Assert.Single(TestNodes.Decode(datagram)).MetadataLength);
    }

    [Fact]
    public void Random_bytes_and_bit_flips_never_throw()
    {
        // 20,000 inputs here; 3,000,000 (inputs up to 96 bytes) ran clean once by hand after the Skip fix.
        var random = new Random(5);
        var valid = TestNodes.Datagram(Sample(0), Sample(1), Sample(4), Sample(7));
        var pushPull = MessageCodec.EncodePushPull(false, false, "a", [new("a", "a:1", 1, MemberState.Alive, TestNodes.Meta(("k", "v")))]);
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
                    bytes[0] = MessageCodec.ProtocolVersion;
                }
            }

            messages.Clear();
            entries.Clear();
            if (MessageCodec.DecodeDatagram(bytes, 512, messages, out _, out _) == DecodeStatus.Ok)
            {
                foreach (var m in messages.Where(m => m.Type == MessageType.Alive && !m.MetadataTooLarge))
                {
                    MessageCodec.ReadMetadata(bytes.AsMemory(m.MetadataStart, m.MetadataLength), pool: null);
                }
            }

            MessageCodec.DecodePushPull(bytes, 512, entries, out _, out _, out _);
        }
    }
}
