using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Transport.Tests;

public sealed class AlpnTests
{
    [Theory]
    [InlineData("walrus/2")]
    [InlineData("h2")]
    [InlineData(null)]
    public async Task A_tcp_client_that_does_not_offer_walrus_1_never_reaches_the_application(string? alpn)
    {
        using var deadline = TestTransports.Deadline();
        var server = TestTransports.Create(TransportMode.Tcp, TestCertificates.NodeA, TestCertificates.ClusterRoots);
        var member = TestTransports.Create(TransportMode.Tcp, TestCertificates.NodeB, TestCertificates.ClusterRoots);
        await using var listener = await server.ListenAsync(TestTransports.AnyLoopbackPort, deadline.Token);

        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(listener.LocalEndPoint, deadline.Token);
            await using var ssl = new SslStream(tcp.GetStream());
            var options = new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                EnabledSslProtocols = SslProtocols.Tls13,
                ApplicationProtocols = alpn is null ? null : [new SslApplicationProtocol(alpn)],
                RemoteCertificateValidationCallback = (_, _, _, _) => true,
            };
            try
            {
                await ssl.AuthenticateAsClientAsync(options, deadline.Token);
                Assert.Equal(0, await ssl.ReadAsync(new byte[1], deadline.Token));
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException)
            {
                // Refused during the handshake: fine.
            }
        }

        await using var memberSide = await member.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, deadline.Token);
        await using var accepted = await listener.AcceptAsync(deadline.Token);
        await memberSide.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 77 }, deadline.Token);
        Assert.Equal(77UL, Assert.IsType<StatusRequest>((await accepted.ReceiveAsync(deadline.Token))?.Message).RequestId);
        await TestTransports.WaitUntilAsync(() => server.Counters.TlsHandshakeFailures == 1, deadline.Token);
    }
}
