using System.Security.Authentication;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

public sealed class MutualTlsTests
{
    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task Peers_with_certificates_from_the_cluster_CA_see_each_others_certificate(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var (server, client) = TestTransports.ClusterPair(mode);
        var (listener, serverSide, clientSide) = await TestTransports.ConnectPairAsync(server, client, deadline.Token);
        await using (listener)
        await using (serverSide)
        await using (clientSide)
        {
            Assert.Equal(TestCertificates.NodeB.Thumbprint, serverSide.RemoteCertificate?.Thumbprint);
            Assert.Equal(TestCertificates.NodeA.Thumbprint, clientSide.RemoteCertificate?.Thumbprint);
            Assert.Equal(1, server.Counters.ConnectionsAccepted);
            Assert.Equal(1, client.Counters.ConnectionsOpened);
        }
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_client_refuses_a_server_whose_certificate_is_from_another_CA(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var intruder = TestTransports.Create(mode, TestCertificates.ForeignNode, TestCertificates.ForeignRoots);
        var member = TestTransports.Create(mode, TestCertificates.NodeB, TestCertificates.ClusterRoots);
        await using var listener = await intruder.ListenAsync(TestTransports.AnyLoopbackPort, deadline.Token);

        await Assert.ThrowsAnyAsync<AuthenticationException>(async () =>
            await member.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, deadline.Token));
        Assert.Equal(0, member.Counters.ConnectionsOpened);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_server_refuses_a_client_whose_certificate_is_from_another_CA(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var server = TestTransports.Create(mode, TestCertificates.NodeA, TestCertificates.ClusterRoots, requireClientCertificate: true);
        var intruder = TestTransports.Create(mode, TestCertificates.ForeignNode, TestCertificates.ClusterRoots);
        var member = TestTransports.Create(mode, TestCertificates.NodeB, TestCertificates.ClusterRoots);
        await using var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, deadline.Token);

        await AssertRefusedAsync(intruder, listener.LocalEndPoint.Port, deadline.Token);

        // The next connection the listener hands out is the member's: the intruder never got through.
        await using var memberSide = await member.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, deadline.Token);
        await using var accepted = await listener.AcceptAsync(deadline.Token);
        Assert.Equal(TestCertificates.NodeB.Thumbprint, accepted.RemoteCertificate?.Thumbprint);
        await TestTransports.WaitUntilAsync(() => server.Counters.TlsHandshakeFailures == 1, deadline.Token);
        Assert.Equal(1, server.Counters.ConnectionsAccepted);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_server_requiring_client_certificates_refuses_a_client_without_one(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var server = TestTransports.Create(mode, TestCertificates.NodeA, TestCertificates.ClusterRoots, requireClientCertificate: true);
        var anonymous = TestTransports.Create(mode, certificate: null, TestCertificates.ClusterRoots);
        await using var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, deadline.Token);

        await AssertRefusedAsync(anonymous, listener.LocalEndPoint.Port, deadline.Token);
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_server_not_requiring_client_certificates_accepts_an_anonymous_client(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        var server = TestTransports.Create(mode, TestCertificates.NodeA, TestCertificates.ClusterRoots);
        var anonymous = TestTransports.Create(mode, certificate: null, TestCertificates.ClusterRoots);
        var (listener, serverSide, clientSide) = await TestTransports.ConnectPairAsync(server, anonymous, deadline.Token);
        await using (listener)
        await using (serverSide)
        await using (clientSide)
        {
            Assert.Null(serverSide.RemoteCertificate);
            await clientSide.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 1 }, deadline.Token);
            Assert.Equal(MessageType.StatusRequest, (await serverSide.ReceiveAsync(deadline.Token))?.Type);
        }
    }

    [Theory]
    [InlineData(TransportMode.Tcp)]
    [InlineData(TransportMode.Quic)]
    public async Task A_client_refuses_a_server_certificate_that_does_not_name_the_dialled_host_unless_told_not_to_check(TransportMode mode)
    {
        using var deadline = TestTransports.Deadline();
        using var elsewhere = TestCertificates.SignedByClusterCa("elsewhere.test");
        var server = TestTransports.Create(mode, elsewhere, TestCertificates.ClusterRoots);
        var strict = TestTransports.Create(mode, TestCertificates.NodeB, TestCertificates.ClusterRoots);
        var lenient = TestTransports.Create(mode, TestCertificates.NodeB, TestCertificates.ClusterRoots, validateRemoteName: false);
        await using var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, deadline.Token);

        await Assert.ThrowsAnyAsync<AuthenticationException>(async () => await strict.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, deadline.Token));

        await using var connection = await lenient.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, deadline.Token);
        Assert.Equal(elsewhere.Thumbprint, connection.RemoteCertificate?.Thumbprint);
    }

    /// <summary>
    /// In TLS 1.3 the client finishes its handshake before the server has checked the client's certificate, so the
    /// refusal surfaces either in ConnectAsync or on the first receive.
    /// </summary>
    private static async Task AssertRefusedAsync(ITransport client, int port, CancellationToken cancellationToken)
    {
        IFrameConnection connection;
        try
        {
            connection = await client.ConnectAsync("127.0.0.1", port, cancellationToken);
        }
        catch (Exception ex) when (ex is AuthenticationException or IOException)
        {
            return;
        }

        await using (connection)
        {
            var ex = await Record.ExceptionAsync(async () =>
            {
                await connection.SendAsync(MessageType.StatusRequest, new StatusRequest(), cancellationToken);
                Assert.Null(await connection.ReceiveAsync(cancellationToken));
            });
            Assert.True(ex is null or AuthenticationException or IOException, $"unexpected {ex}");
        }
    }
}
