using System.Net;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Transport.Tests;

public sealed class UdpGossipSocketTests
{
    [Fact]
    public async Task A_datagram_arrives_with_the_senders_address()
    {
        using var deadline = TestTransports.Deadline();
        var received = Channel.CreateUnbounded<(string From, byte[] Bytes)>();
        await using var a = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        await using var b = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        b.Start((from, bytes) => received.Writer.TryWrite((from, bytes)));

        Assert.True(await a.SendAsync($"127.0.0.1:{b.LocalEndPoint.Port}", [1, 2, 3], deadline.Token));

        var (sender, payload) = await received.Reader.ReadAsync(deadline.Token);
        Assert.Equal($"127.0.0.1:{a.LocalEndPoint.Port}", sender);
        Assert.Equal(new byte[] { 1, 2, 3 }, payload);
    }

    [Fact]
    public async Task A_datagram_above_the_limit_is_never_sent()
    {
        var counters = new TransportCounters();
        await using var socket = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, counters, NullLogger.Instance);

        var sent = await socket.SendAsync($"127.0.0.1:{socket.LocalEndPoint.Port}", new byte[UdpGossipSocket.MaxDatagramBytes + 1], TestContext.Current.CancellationToken);

        Assert.False(sent);
        Assert.Equal(1, counters.DatagramsDropped);
        Assert.Equal(0, counters.DatagramsSent);
    }

    [Theory]
    [InlineData("no-port")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:99999")]
    [InlineData("")]
    public async Task An_invalid_address_is_dropped_and_counted_not_thrown(string address)
    {
        var counters = new TransportCounters();
        await using var socket = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, counters, NullLogger.Instance);

        Assert.False(await socket.SendAsync(address, [1], TestContext.Current.CancellationToken));
        Assert.Equal(1, counters.DatagramsDropped);
    }

    [Fact]
    public async Task A_failing_callback_is_counted_and_the_loop_keeps_receiving()
    {
        using var deadline = TestTransports.Deadline();
        var counters = new TransportCounters();
        var received = Channel.CreateUnbounded<byte[]>();
        await using var sender = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        await using var receiver = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, counters, NullLogger.Instance);
        receiver.Start((_, bytes) =>
        {
            if (bytes[0] == 0)
            {
                throw new InvalidOperationException("handler bug");
            }

            received.Writer.TryWrite(bytes);
        });
        var target = $"127.0.0.1:{receiver.LocalEndPoint.Port}";

        await sender.SendAsync(target, [0], deadline.Token);
        await sender.SendAsync(target, [1], deadline.Token);

        Assert.Equal(new byte[] { 1 }, await received.Reader.ReadAsync(deadline.Token));
        Assert.Equal(1, counters.GossipErrors);
        Assert.Equal(2, counters.DatagramsReceived);
    }

    [Fact]
    public async Task A_datagram_of_exactly_the_limit_arrives_whole()
    {
        using var deadline = TestTransports.Deadline();
        var received = Channel.CreateUnbounded<byte[]>();
        await using var a = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        await using var b = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        b.Start((_, bytes) => received.Writer.TryWrite(bytes));
        var payload = new byte[UdpGossipSocket.MaxDatagramBytes];
        new Random(5).NextBytes(payload);

        Assert.True(await a.SendAsync($"localhost:{b.LocalEndPoint.Port}", payload, deadline.Token));

        Assert.Equal(payload, await received.Reader.ReadAsync(deadline.Token));
    }

    [Fact]
    public async Task A_socket_bound_to_ipv6_any_receives_ipv4_datagrams_with_an_ipv4_sender_address()
    {
        if (!System.Net.Sockets.Socket.OSSupportsIPv6)
        {
            Assert.Skip("IPv6 is disabled on this machine.");
        }

        using var deadline = TestTransports.Deadline();
        var received = Channel.CreateUnbounded<string>();
        await using var v4 = UdpGossipSocket.Bind(TestTransports.AnyLoopbackPort, new TransportCounters(), NullLogger.Instance);
        await using var dual = UdpGossipSocket.Bind(new IPEndPoint(IPAddress.IPv6Any, 0), new TransportCounters(), NullLogger.Instance);
        dual.Start((from, _) => received.Writer.TryWrite(from));

        Assert.True(await v4.SendAsync($"127.0.0.1:{dual.LocalEndPoint.Port}", [1], deadline.Token));

        Assert.Equal($"127.0.0.1:{v4.LocalEndPoint.Port}", await received.Reader.ReadAsync(deadline.Token));
    }

    [Fact]
    public void Addresses_are_formatted_as_host_colon_port_with_ipv4_unmapped()
    {
        Assert.Equal("127.0.0.1:7301", UdpGossipSocket.FormatAddress(new IPEndPoint(IPAddress.Loopback.MapToIPv6(), 7301)));
        Assert.Equal("[::1]:7301", UdpGossipSocket.FormatAddress(new IPEndPoint(IPAddress.IPv6Loopback, 7301)));
    }
}
