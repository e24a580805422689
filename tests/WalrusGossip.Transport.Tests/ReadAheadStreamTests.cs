using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

/// <summary>The receive read-ahead must hand frames over exactly as the stream carried them, whatever the read sizes.</summary>
public sealed class ReadAheadStreamTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(4096)]
    [InlineData(1 << 20)]
    public async Task Frames_split_and_packed_at_any_read_size_come_out_whole_and_in_order(int maxChunk)
    {
        var frames = new List<(MessageType Type, Google.Protobuf.IMessage Message)>();
        var random = new Random(maxChunk);
        for (var i = 0; i < 200; i++)
        {
            // Small frames (packed many per read), and some larger than the 16 KiB read-ahead (read past it).
            var payload = new byte[random.Next(3) == 0 ? random.Next(16_000, 70_000) : random.Next(0, 300)];
            random.NextBytes(payload);
            frames.Add((MessageType.AppendRequest, new AppendRequest { RequestId = (ulong)i, Payload = Google.Protobuf.ByteString.CopyFrom(payload) }));
        }

        using var wire = new MemoryStream();
        foreach (var (type, message) in frames)
        {
            await FrameCodec.WriteFrameAsync(wire, type, message, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken);
        }

        var stream = new ReadAheadStream(new ChunkyStream(wire.ToArray(), maxChunk, seed: 5), 16 << 10);
        var header = new byte[FrameHeader.Size];
        foreach (var (type, message) in frames)
        {
            var frame = await FrameCodec.ReadFrameAsync(stream, header, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken);
            Assert.NotNull(frame);
            Assert.Equal(type, frame.Value.Type);
            Assert.Equal(message, frame.Value.Message);
        }

        Assert.Null(await FrameCodec.ReadFrameAsync(stream, header, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_stream_that_ends_inside_a_frame_is_reported_as_truncated()
    {
        using var wire = new MemoryStream();
        var message = new AppendRequest { RequestId = 1, Payload = Google.Protobuf.ByteString.CopyFrom(new byte[500]) };
        await FrameCodec.WriteFrameAsync(wire, MessageType.AppendRequest, message, ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken);
        var cut = wire.ToArray()[..300];

        var stream = new ReadAheadStream(new ChunkyStream(cut, 64, seed: 1), 16 << 10);
        var error = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await FrameCodec.ReadFrameAsync(stream, new byte[FrameHeader.Size], ProtocolLimits.DefaultMaxFrameBytes, TestContext.Current.CancellationToken));
        Assert.Equal(ProtocolErrorKind.Truncated, error.Kind);
    }

    /// <summary>Returns between 1 and maxChunk bytes per read, like a socket.</summary>
    private sealed class ChunkyStream(byte[] data, int maxChunk, int seed) : Stream
    {
        private readonly Random _random = new(seed);
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => data.Length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, data.Length - _position), _random.Next(1, maxChunk + 1));
            data.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
