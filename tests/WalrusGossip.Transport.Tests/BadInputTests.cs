using System.Buffers.Binary;
using System.Text;
using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

/// <summary>
/// Bad input on a served port closes only the offending connection, with a logged reason and a counter, while
/// another connection keeps being served.
/// </summary>
public sealed class BadInputTests
{
    private const int ClosedForProtocolErrorEvent = 1401;

    public static IEnumerable<TheoryDataRow<TransportMode, string>> Cases() =>
        from mode in new[] { TransportMode.Tcp, TransportMode.Quic }
        from name in BadFrames.Keys
        select new TheoryDataRow<TransportMode, string>(mode, name);

    private static readonly Dictionary<string, (Func<byte[]> Bytes, bool EndStream, ProtocolErrorKind Kind)> BadFrames = new()
    {
        ["length prefix of 2 GiB"] = (() => Prefix(int.MaxValue), false, ProtocolErrorKind.FrameTooLarge),
        ["length prefix one above MaxFrameBytes"] = (() => Prefix((64 * 1024) + 1), false, ProtocolErrorKind.FrameTooLarge),
        ["an HTTP request"] = (() => Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), false, ProtocolErrorKind.FrameTooLarge),
        ["frame cut inside the body"] = (() => FrameCodec.Encode(MessageType.StatusResponse, MessageSamples.All[MessageType.StatusResponse])[..20], true, ProtocolErrorKind.Truncated),
        ["frame cut inside the length prefix"] = (() => [7, 0], true, ProtocolErrorKind.Truncated),
        ["unknown message type"] = (() => Frame(4242, [1, 2, 3]), false, ProtocolErrorKind.UnknownMessageType),
        ["garbage body for a known type"] = (() => Frame((ushort)MessageType.AppendRequest, [0x00, 0xFF, 0x13, 0x37]), false, ProtocolErrorKind.Malformed),
        ["length shorter than the type"] = (() => Prefix(1), false, ProtocolErrorKind.Malformed),
        ["Raft envelope with an invalid kind"] = (() => FrameCodec.Encode(MessageType.RaftEnvelope, new RaftEnvelope { Type = (RaftMessageKind)77, From = 1, To = 2 }), false, ProtocolErrorKind.Malformed),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_frame_closes_only_its_connection_with_a_logged_reason_and_a_counter(TransportMode mode, string name)
    {
        var (bytes, endStream, kind) = BadFrames[name];
        using var deadline = TestTransports.Deadline();
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var bystander = await harness.ConnectClientAsync(deadline.Token);
        await using var offender = await harness.ConnectRawAsync(deadline.Token);
        await HelloHandshake.ConnectAsync(offender, new Hello { Role = ConnectionRole.Client }, deadline.Token);

        await offender.SendRawAsync(bytes(), deadline.Token);
        if (endStream)
        {
            await offender.CompleteWritesAsync();
        }

        await ServerHarness.DrainUntilClosedAsync(offender, deadline.Token);
        Assert.Equal(1, harness.Counters.ProtocolErrors(kind));
        Assert.Equal(1, harness.Counters.ConnectionsClosedForProtocolError);
        Assert.Contains(harness.Logger.Entries, e => e.EventId.Id == ClosedForProtocolErrorEvent && e.Message.Contains(kind.ToString(), StringComparison.Ordinal));
        await ServerHarness.AssertServesAsync(bystander, 1, deadline.Token);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_hello_with_another_protocol_version_is_refused_with_the_reason_on_both_sides(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var bystander = await harness.ConnectClientAsync(deadline.Token);
        await using var future = await harness.ConnectRawAsync(deadline.Token);

        var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await HelloHandshake.ConnectAsync(future, new Hello { ProtocolVersion = 2, Role = ConnectionRole.Client }, deadline.Token));

        Assert.Equal(ProtocolErrorKind.VersionMismatch, ex.Kind);
        Assert.Contains("protocol version 2", ex.Message, StringComparison.Ordinal);
        await ServerHarness.DrainUntilClosedAsync(future, deadline.Token);
        Assert.Equal(1, harness.Counters.ProtocolErrors(ProtocolErrorKind.VersionMismatch));
        Assert.Equal(1, harness.Logger.Count(ClosedForProtocolErrorEvent));
        await ServerHarness.AssertServesAsync(bystander, 7, deadline.Token);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_peer_hello_on_the_client_port_is_refused(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var peer = await harness.ConnectRawAsync(deadline.Token);

        var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await HelloHandshake.ConnectAsync(peer, new Hello { Role = ConnectionRole.Peer, NodeId = 2, ClusterId = ServerHarness.ClusterId }, deadline.Token));

        Assert.Equal(ProtocolErrorKind.HandshakeRejected, ex.Kind);
        Assert.Equal(1, harness.Counters.ProtocolErrors(ProtocolErrorKind.HandshakeRejected));
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_hello_naming_another_cluster_is_refused(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var stranger = await harness.ConnectRawAsync(deadline.Token);

        var ex = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await HelloHandshake.ConnectAsync(stranger, new Hello { Role = ConnectionRole.Client, ClusterId = "other-cluster" }, deadline.Token));

        Assert.Equal(ProtocolErrorKind.HandshakeRejected, ex.Kind);
        Assert.Contains("other-cluster", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_first_frame_that_is_not_a_hello_closes_the_connection(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var rude = await harness.ConnectRawAsync(deadline.Token);

        await rude.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 1 }, deadline.Token);

        await ServerHarness.DrainUntilClosedAsync(rude, deadline.Token);
        Assert.Equal(1, harness.Counters.ProtocolErrors(ProtocolErrorKind.UnexpectedMessage));
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task The_server_survives_1000_random_bad_frames_while_another_connection_keeps_working(TransportMode mode)
    {
        const int attacks = 1000;
        const int parallel = 20;
        using var deadline = TestTransports.Deadline(120);
        await using var harness = await ServerHarness.StartAsync(mode, deadline.Token);
        await using var bystander = await harness.ConnectClientAsync(deadline.Token);
        var plan = RandomAttack.Plan(seed: 20261122, attacks, maxFrameBytes: 64 * 1024);

        for (var batch = 0; batch < attacks; batch += parallel)
        {
            await Task.WhenAll(plan.Skip(batch).Take(parallel).Select(a => a.RunAsync(harness, deadline.Token)));
            await ServerHarness.AssertServesAsync(bystander, (ulong)batch, deadline.Token);
        }

        var expected = plan.Where(a => a.ExpectedError is not null).ToList();
        Assert.True(expected.Count > attacks * 9 / 10, $"only {expected.Count} of the {attacks} frames are bad");
        Assert.Equal(expected.Count, harness.Counters.ConnectionsClosedForProtocolError);
        foreach (var kind in Enum.GetValues<ProtocolErrorKind>())
        {
            Assert.Equal(expected.Count(a => a.ExpectedError == kind), harness.Counters.ProtocolErrors(kind));
        }

        Assert.Equal(expected.Count, harness.Logger.Count(ClosedForProtocolErrorEvent));
        await ServerHarness.AssertServesAsync(bystander, ulong.MaxValue, deadline.Token);
    }

    private static byte[] Prefix(int length)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)length);
        return bytes;
    }

    private static byte[] Frame(ushort type, byte[] body)
    {
        var bytes = new byte[6 + body.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)(2 + body.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), type);
        body.CopyTo(bytes, 6);
        return bytes;
    }
}
