using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

public sealed class FrameServerTests
{
    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_connection_that_never_says_hello_is_closed_after_the_hello_timeout(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        await using var running = await RunAsync(mode, Ignore, new FrameServerOptions { HelloTimeout = TimeSpan.FromMilliseconds(200) }, deadline.Token);
        await using var silent = await running.Client.ConnectAsync("127.0.0.1", running.Port, deadline.Token);

        await ServerHarness.DrainUntilClosedAsync(silent, deadline.Token);

        Assert.Equal(0, running.Server.Counters.ConnectionsClosedForProtocolError);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_failing_handler_closes_its_session_without_counting_a_protocol_error_and_reports_the_close(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var closedSessions = new TaskCompletionSource<FrameSession>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new FrameServerOptions { SessionClosed = s => closedSessions.TrySetResult(s) };
        await using var running = await RunAsync(mode, (_, _, _, _) => throw new InvalidOperationException("handler bug"), options, deadline.Token);
        await using var client = await running.Client.ConnectAsync("127.0.0.1", running.Port, deadline.Token);
        await HelloHandshake.ConnectAsync(client, new Hello { Role = ConnectionRole.Client, Name = "app-1" }, deadline.Token);

        await client.SendAsync(MessageType.StatusRequest, new StatusRequest(), deadline.Token);

        await ServerHarness.DrainUntilClosedAsync(client, deadline.Token);
        var session = await closedSessions.Task.WaitAsync(deadline.Token);
        Assert.Equal("app-1", session.Hello.Name);
        Assert.True(session.Closed.IsCancellationRequested);
        Assert.Equal(0, running.Server.Counters.ConnectionsClosedForProtocolError);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_peer_hello_is_accepted_on_a_peer_port_and_the_handler_sees_who_is_talking(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var seen = new TaskCompletionSource<(ulong NodeId, MessageType Type)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new FrameServerOptions { Hello = new HelloAcceptOptions { LocalNodeId = 1, ClusterId = "c1", AllowedRoles = [ConnectionRole.Peer] } };
        await using var running = await RunAsync(
            mode,
            (session, type, _, _) =>
            {
                seen.TrySetResult((session.Hello.NodeId, type));
                return ValueTask.CompletedTask;
            },
            options,
            deadline.Token);
        await using var peer = await running.Client.ConnectAsync("127.0.0.1", running.Port, deadline.Token);

        var ack = await HelloHandshake.ConnectAsync(peer, new Hello { Role = ConnectionRole.Peer, NodeId = 2, ClusterId = "c1" }, deadline.Token);
        await peer.SendAsync(MessageType.RaftEnvelope, RaftMessageMapper.ToProto(RaftSamples.AppendWithEverything()), deadline.Token);

        Assert.Equal(1UL, ack.NodeId);
        Assert.Equal((2UL, MessageType.RaftEnvelope), await seen.Task.WaitAsync(deadline.Token));
    }

    private static ValueTask Ignore(FrameSession session, MessageType type, IMessage message, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    private static async Task<Running> RunAsync(TransportMode mode, FrameHandler handler, FrameServerOptions options, CancellationToken cancellationToken)
    {
        var (server, client) = TestTransports.ClusterPair(mode);
        var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, cancellationToken);
        var stop = new CancellationTokenSource();
        var frameServer = new FrameServer(listener, options, handler, server.Counters, NullLogger.Instance);
        return new Running(server, client, listener, stop, frameServer.RunAsync(stop.Token));
    }

    private sealed record Running(ITransport Server, ITransport Client, IFrameListener Listener, CancellationTokenSource Stop, Task Serving) : IAsyncDisposable
    {
        public int Port => Listener.LocalEndPoint.Port;

        public async ValueTask DisposeAsync()
        {
            await Stop.CancelAsync();
            await Serving;
            await Listener.DisposeAsync();
            Stop.Dispose();
        }
    }
}
