using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

public sealed class TransportRoundTripTests
{
    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task Every_message_type_crosses_the_connection_in_both_directions(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        foreach (var (type, message) in MessageSamples.All)
        {
            await clientSide.SendAsync(type, message, deadline.Token);
            var received = await serverSide.ReceiveAsync(deadline.Token);
            Assert.Equal(type, received?.Type);
            Assert.Equal(message, received?.Message);

            await serverSide.SendAsync(type, message, deadline.Token);
            var echoed = await clientSide.ReceiveAsync(deadline.Token);
            Assert.Equal(type, echoed?.Type);
            Assert.Equal(message, echoed?.Message);
        }

        Assert.Equal(MessageSamples.All.Count * 2, pair.Server.Counters.FramesSent + pair.Server.Counters.FramesReceived);
        Assert.Equal(0, pair.Server.Counters.ConnectionsClosedForProtocolError);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task Concurrent_senders_never_interleave_frames(TransportMode mode)
    {
        const int senders = 8;
        const int framesPerSender = 200;
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        var sending = Enumerable.Range(0, senders).Select(s => Task.Run(async () =>
        {
            for (var i = 0; i < framesPerSender; i++)
            {
                var payload = new byte[1 + ((s * 7919) + (i * 104_729)) % 20_000];
                Array.Fill(payload, (byte)s);
                await clientSide.SendAsync(MessageType.AppendRequest, new AppendRequest { ClientId = (ulong)s, Sequence = (ulong)i, Payload = ByteString.CopyFrom(payload) }, deadline.Token);
            }
        })).ToArray();

        var nextSequence = new ulong[senders];
        for (var n = 0; n < senders * framesPerSender; n++)
        {
            var frame = await serverSide.ReceiveAsync(deadline.Token);
            var append = Assert.IsType<AppendRequest>(frame?.Message);
            Assert.Equal(nextSequence[append.ClientId]++, append.Sequence);
            Assert.True(append.Payload.Span.IndexOfAnyExcept((byte)append.ClientId) < 0, $"frame {append.Sequence} of sender {append.ClientId} is corrupted");
        }

        await Task.WhenAll(sending);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task Posted_frames_arrive_in_order_and_a_post_after_close_is_refused(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        for (var i = 0; i < 1000; i++)
        {
            Assert.True(clientSide.Post(MessageType.AppendResponse, new AppendResponse { RequestId = (ulong)i, Index = (ulong)i }));
        }

        for (var i = 0; i < 1000; i++)
        {
            var frame = await serverSide.ReceiveAsync(deadline.Token);
            Assert.Equal((ulong)i, Assert.IsType<AppendResponse>(frame?.Message).RequestId);
        }

        await clientSide.DisposeAsync();
        Assert.False(clientSide.Post(MessageType.AppendResponse, new AppendResponse()));
        Assert.Throws<ProtocolException>(() => clientSide.Post(MessageType.AppendResponse, new AppendResponse { Message = new string('x', ProtocolLimits.DefaultMaxFrameBytes) }));
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_receiver_that_stops_reading_makes_senders_wait_and_frames_keep_call_order(TransportMode mode)
    {
        const int frames = 64;
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        // 64 MiB while nobody reads: more than the socket buffers and the send queue together can hold.
        var payload = ByteString.CopyFrom(new byte[1 << 20]);
        var sends = Enumerable.Range(0, frames)
            .Select(i => clientSide.SendAsync(MessageType.AppendRequest, new AppendRequest { Sequence = (ulong)i, Payload = payload }, deadline.Token).AsTask())
            .ToArray();
        Assert.Contains(sends, t => !t.IsCompleted); // callers beyond the queue limit wait

        for (var i = 0; i < frames; i++)
        {
            var frame = await serverSide.ReceiveAsync(deadline.Token);
            Assert.Equal((ulong)i, Assert.IsType<AppendRequest>(frame?.Message).Sequence);
        }

        await Task.WhenAll(sends);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task Receive_returns_null_when_the_other_side_closes_between_frames(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        await clientSide.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 1 }, deadline.Token);
        await clientSide.DisposeAsync();

        Assert.Equal(MessageType.StatusRequest, (await serverSide.ReceiveAsync(deadline.Token))?.Type);
        Assert.Null(await serverSide.ReceiveAsync(deadline.Token));
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_message_above_MaxFrameBytes_is_refused_before_sending_and_the_connection_stays_usable(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var pair = await TestTransports.OpenPairAsync(mode, deadline.Token, maxFrameBytes: 4096);
        var (serverSide, clientSide) = (pair.ServerSide, pair.ClientSide);
        var tooBig = new AppendRequest { Payload = ByteString.CopyFrom(new byte[8192]) };
        var ex = await Assert.ThrowsAsync<ProtocolException>(async () => await clientSide.SendAsync(MessageType.AppendRequest, tooBig, deadline.Token));
        Assert.Equal(ProtocolErrorKind.FrameTooLarge, ex.Kind);

        await clientSide.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 2 }, deadline.Token);
        Assert.Equal(MessageType.StatusRequest, (await serverSide.ReceiveAsync(deadline.Token))?.Type);
    }
}
