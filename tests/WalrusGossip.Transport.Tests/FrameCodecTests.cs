using System.Buffers.Binary;
using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

public sealed class FrameCodecTests
{
    [Theory]
    [MemberData(nameof(MessageSamples.Types), MemberType = typeof(MessageSamples))]
    public void Every_message_type_round_trips_through_a_frame(MessageType type)
    {
        var sample = MessageSamples.All[type];
        var bytes = FrameCodec.Encode(type, sample);

        Assert.Equal((uint)(bytes.Length - 4), BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.Equal((ushort)type, BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)));
        var (decodedType, message) = FrameCodec.Decode(bytes);
        Assert.Equal(type, decodedType);
        Assert.Equal(sample, message);
    }

    [Fact]
    public void Every_frame_type_of_walrus_proto_fits_the_u16_header_and_names_the_message_it_carries()
    {
        var descriptor = WalrusReflection.Descriptor.EnumTypes.Single(e => e.Name == nameof(MessageType));
        foreach (var value in descriptor.Values.Where(v => v.Number != 0))
        {
            Assert.InRange(value.Number, 1, ushort.MaxValue);
            var type = (MessageType)value.Number;
            Assert.True(MessageTypes.IsKnown(type), $"{value.Name} has no parser");

            // MESSAGE_TYPE_APPEND_REQUEST carries AppendRequest: the table cannot pair a number with the wrong message.
            var expected = string.Concat(value.Name["MESSAGE_TYPE_".Length..].Split('_').Select(w => w[0] + w[1..].ToLowerInvariant()));
            Assert.Equal(expected, MessageSamples.All[type].Descriptor.Name, StringComparer.OrdinalIgnoreCase);
        }
    }

    [Fact]
    public async Task Frames_read_from_a_stream_one_after_another_and_null_at_clean_end()
    {
        using var stream = new MemoryStream();
        foreach (var (type, message) in MessageSamples.All)
        {
            await FrameCodec.WriteFrameAsync(stream, type, message, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken);
        }

        stream.Position = 0;
        foreach (var (type, message) in MessageSamples.All)
        {
            var frame = await FrameCodec.ReadFrameAsync(stream, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken);
            Assert.NotNull(frame);
            Assert.Equal(type, frame.Value.Type);
            Assert.Equal(message, frame.Value.Message);
        }

        Assert.Null(await FrameCodec.ReadFrameAsync(stream, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_length_prefix_claiming_2_GiB_is_refused_after_reading_only_the_prefix_and_without_allocating()
    {
        var prefix = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, int.MaxValue);
        using var stream = new PrefixOnlyStream(prefix);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await FrameCodec.ReadFrameAsync(stream, ProtocolLimits.DefaultMaxFrameBytes, CancellationToken.None));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(ProtocolErrorKind.FrameTooLarge, ex.Kind);
        Assert.Equal(4, stream.BytesRead);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes while refusing the frame");
    }

    [Fact]
    public void A_length_just_above_the_limit_is_refused_and_the_limit_itself_is_accepted()
    {
        const int max = 4096;
        var frame = new byte[4 + max + 1];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, max + 1);
        Assert.Equal(ProtocolErrorKind.FrameTooLarge, Assert.Throws<ProtocolException>(() => FrameCodec.Decode(frame, max)).Kind);

        // Body: 1 tag byte + 2 length bytes + payload; the frame length adds the 2-byte type.
        var atLimit = FrameCodec.Encode(MessageType.GossipStream, new GossipStream { Payload = ByteString.CopyFrom(new byte[max - 2 - 3]) }, max);
        Assert.Equal((uint)max, BinaryPrimitives.ReadUInt32LittleEndian(atLimit));
        Assert.Equal(MessageType.GossipStream, FrameCodec.Decode(atLimit, max).Type);
    }

    [Fact]
    public void Encoding_a_message_larger_than_the_limit_is_refused()
    {
        var big = new GossipStream { Payload = ByteString.CopyFrom(new byte[2048]) };
        var ex = Assert.Throws<ProtocolException>(() => FrameCodec.Encode(MessageType.GossipStream, big, 1024));
        Assert.Equal(ProtocolErrorKind.FrameTooLarge, ex.Kind);
    }

    [Fact]
    public void Encoding_with_a_type_that_does_not_match_the_message_is_refused()
    {
        Assert.Throws<ArgumentException>(() => FrameCodec.Encode(MessageType.HelloAck, new Hello()));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(5)]
    [InlineData(10)]
    public async Task A_stream_ending_inside_a_frame_is_truncated(int keepBytes)
    {
        var frame = FrameCodec.Encode(MessageType.AppendRequest, MessageSamples.All[MessageType.AppendRequest]);
        using var stream = new MemoryStream(frame[..keepBytes]);

        var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await FrameCodec.ReadFrameAsync(stream, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken));

        Assert.Equal(ProtocolErrorKind.Truncated, ex.Kind);
        Assert.Equal(ProtocolErrorKind.Truncated, Assert.Throws<ProtocolException>(() => FrameCodec.Decode(frame[..keepBytes])).Kind);
    }

    [Theory]
    [InlineData((ushort)0)]
    [InlineData((ushort)3)]
    [InlineData((ushort)999)]
    [InlineData(ushort.MaxValue)]
    public void An_unknown_message_type_is_refused(ushort type)
    {
        var frame = new byte[6 + 3];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, 5);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), type);

        Assert.Equal(ProtocolErrorKind.UnknownMessageType, Assert.Throws<ProtocolException>(() => FrameCodec.Decode(frame)).Kind);
    }

    [Theory]
    [InlineData(new byte[] { 0x00, 0x01, 0x02 })]
    [InlineData(new byte[] { 0x0A, 0x7F, 0x01 })]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(new byte[] { 0x0B })]
    public void A_body_that_is_not_protobuf_is_malformed(byte[] body)
    {
        var frame = new byte[6 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, (uint)(2 + body.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(4), (ushort)MessageType.AppendRequest);
        body.CopyTo(frame, 6);

        Assert.Equal(ProtocolErrorKind.Malformed, Assert.Throws<ProtocolException>(() => FrameCodec.Decode(frame)).Kind);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    public void A_length_shorter_than_the_type_field_is_malformed(uint length)
    {
        var frame = new byte[4 + length];
        BinaryPrimitives.WriteUInt32LittleEndian(frame, length);
        Assert.Equal(ProtocolErrorKind.Malformed, Assert.Throws<ProtocolException>(() => FrameCodec.Decode(frame)).Kind);
    }

    [Fact]
    public void Bytes_after_a_complete_frame_are_malformed()
    {
        var frame = FrameCodec.Encode(MessageType.StatusRequest, new StatusRequest { RequestId = 1 });
        Assert.Equal(ProtocolErrorKind.Malformed, Assert.Throws<ProtocolException>(() => FrameCodec.Decode([.. frame, 0])).Kind);
    }

    [Fact]
    public void A_pooled_frame_holds_the_same_bytes_as_an_encoded_array()
    {
        var sample = MessageSamples.All[MessageType.StatusResponse];
        using var pooled = FrameCodec.EncodePooled(MessageType.StatusResponse, sample);
        Assert.Equal(FrameCodec.Encode(MessageType.StatusResponse, sample), pooled.Memory.ToArray());
    }

    [Fact]
    public void Random_bytes_never_escape_as_anything_but_a_protocol_exception()
    {
        var random = new Random(1234);
        for (var i = 0; i < 5000; i++)
        {
            var bytes = new byte[random.Next(0, 64)];
            random.NextBytes(bytes);
            if (bytes.Length >= 6 && random.Next(2) == 0)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)(bytes.Length - 4));
                BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), (ushort)MessageTypes.All[random.Next(MessageTypes.All.Count)]);
            }

            try
            {
                FrameCodec.Decode(bytes);
            }
            catch (ProtocolException)
            {
                // Expected for almost every input; anything else fails the test.
            }
        }
    }

    /// <summary>Yields the given prefix and fails the test if anything more is read.</summary>
    private sealed class PrefixOnlyStream(byte[] prefix) : Stream
    {
        public int BytesRead { get; private set; }

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (BytesRead >= prefix.Length)
            {
                throw new InvalidOperationException("read past the length prefix of an oversized frame");
            }

            var n = Math.Min(buffer.Length, prefix.Length - BytesRead);
            prefix.AsSpan(BytesRead, n).CopyTo(buffer);
            BytesRead += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(Read(buffer.Span));

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
