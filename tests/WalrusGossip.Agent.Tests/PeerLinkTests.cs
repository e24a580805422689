using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Agent.Network;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Tests;

/// <summary>The agent's outbound Raft links (<see cref="PeerNetwork"/>) against a fake peer on loopback.</summary>
public sealed class PeerLinkTests
{
    private static readonly X509Certificate2 Ca = DevCertificates.CreateCa("peer-link-test-ca");

    [Fact]
    public async Task An_idle_link_reconnects_when_the_peer_closes_its_side_and_the_next_message_arrives()
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        var token = deadline.Token;
        await using var peer = await FakePeer.StartAsync(token);
        await using var udp = UdpGossipSocket.Bind(new IPEndPoint(IPAddress.Loopback, 0), new TransportCounters(), NullLogger.Instance);
        await using var network = new PeerNetwork(Transport("node-1"), udp, nodeId: 1, gossipAddress: "127.0.0.1:1", NullLogger.Instance);

        network.SetPeerAddress(2, $"127.0.0.1:{peer.Port}"); // connects at once, before any message
        var first = await peer.Accepted.Reader.ReadAsync(token);

        // The peer restarts (or its process dies) while this link has nothing to send, as between two followers.
        await first.DisposeAsync();

        // The link notices without writing, and connects again; the first message after that reaches the peer.
        // Before the link watched its connection, that message was written into the dead socket and lost.
        _ = await peer.Accepted.Reader.ReadAsync(token);
        network.SendRaft(new RaftMessage { Type = RaftMessageType.PreVote, From = 1, To = 2, Term = 7, Index = 5, LogTerm = 3 });
        var received = await peer.Received.Reader.ReadAsync(token);
        Assert.Equal(RaftMessageType.PreVote, received.Type);
        Assert.Equal(7UL, received.Term);
        Assert.Equal(5UL, received.Index);
        Assert.Equal(0, network.DroppedMessages);
    }

    private static ITransport Transport(string name) => TransportFactory.Create(
        new TransportOptions
        {
            Mode = TransportMode.Tcp,
            Certificate = DevCertificates.CreateNodeCertificate(Ca, name, ["localhost"], [IPAddress.Loopback]),
            TrustedRoots = [Ca],
            ConnectTimeout = TimeSpan.FromSeconds(5),
            HandshakeTimeout = TimeSpan.FromSeconds(5),
        },
        NullLogger.Instance,
        out _);

    /// <summary>Node 2's peer port: accepts peer connections (Hello first) and hands over every Raft message read.</summary>
    private sealed class FakePeer : IAsyncDisposable
    {
        private readonly IFrameListener _listener;
        private readonly CancellationTokenSource _stop;
        private readonly Task _acceptLoop;

        private FakePeer(IFrameListener listener, CancellationToken cancellationToken)
        {
            _listener = listener;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _acceptLoop = AcceptLoopAsync(_stop.Token);
        }

        public int Port => _listener.LocalEndPoint.Port;

        public Channel<IFrameConnection> Accepted { get; } = Channel.CreateUnbounded<IFrameConnection>();

        public Channel<RaftMessage> Received { get; } = Channel.CreateUnbounded<RaftMessage>();

        public static async Task<FakePeer> StartAsync(CancellationToken cancellationToken)
        {
            var listener = await Transport("node-2").ListenAsync(new IPEndPoint(IPAddress.Loopback, 0), cancellationToken);
            return new FakePeer(listener, cancellationToken);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _listener.DisposeAsync();
            await _acceptLoop;
            _stop.Dispose();
        }

        private async Task AcceptLoopAsync(CancellationToken cancellationToken)
        {
            var hello = new HelloAcceptOptions { LocalNodeId = 2, AllowedRoles = [ConnectionRole.Peer] };
            try
            {
                while (true)
                {
                    var connection = await _listener.AcceptAsync(cancellationToken);
                    Assert.NotNull(await HelloHandshake.AcceptAsync(connection, hello, counters: null, cancellationToken));
                    Accepted.Writer.TryWrite(connection);
                    _ = ReadAsync(connection, cancellationToken);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
            }
        }

        private async Task ReadAsync(IFrameConnection connection, CancellationToken cancellationToken)
        {
            try
            {
                while (await connection.ReceiveAsync(cancellationToken) is { } frame)
                {
                    Received.Writer.TryWrite(RaftMessageMapper.FromProto((RaftEnvelope)frame.Message));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
            {
                // The connection was closed by the test (the "restart") or at the end.
            }
        }
    }
}
