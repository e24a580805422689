using System.Net;
using System.Security.Cryptography.X509Certificates;

namespace WalrusGossip.Transport.Tests;

public sealed class DevCertificatesTests
{
    [Fact]
    public void A_node_certificate_chains_to_its_CA_and_names_loopback_and_the_given_names()
    {
        var node = DevCertificates.CreateNodeCertificate(TestCertificates.ClusterCa, "node-9", ["node-9.example"], [IPAddress.Parse("10.0.0.9")]);

        Assert.True(node.HasPrivateKey);
        Assert.Equal(TestCertificates.ClusterCa.Subject, node.Issuer);
        Assert.True(node.MatchesHostname("node-9.example"));
        Assert.True(node.MatchesHostname("localhost"));
        Assert.True(node.MatchesHostname("127.0.0.1"));
        Assert.True(node.MatchesHostname("10.0.0.9"));
        var usages = node.Extensions.OfType<X509EnhancedKeyUsageExtension>().Single().EnhancedKeyUsages.Cast<System.Security.Cryptography.Oid>().Select(o => o.Value).ToList();
        Assert.Contains("1.3.6.1.5.5.7.3.1", usages);
        Assert.Contains("1.3.6.1.5.5.7.3.2", usages);

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(TestCertificates.ClusterCa);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(node));
    }

    [Fact]
    public void A_node_certificate_made_with_a_node_id_carries_it_as_a_walrus_uri_and_one_without_carries_none()
    {
        using var seven = DevCertificates.CreateNodeCertificate(TestCertificates.ClusterCa, "node-7", [], [IPAddress.Loopback], nodeId: 7);
        using var none = DevCertificates.CreateNodeCertificate(TestCertificates.ClusterCa, "tool", [], [IPAddress.Loopback]);

        Assert.True(NodeIdentity.TryGetNodeId(seven, out var id));
        Assert.Equal(7ul, id);
        Assert.True(seven.MatchesHostname("localhost")); // the DNS and IP names are still there beside the URI
        Assert.False(NodeIdentity.TryGetNodeId(none, out id));
        Assert.Equal(0ul, id);
        Assert.Equal("walrus://node/12", NodeIdentity.UriFor(12).ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => NodeIdentity.UriFor(0));
    }

    [Fact]
    public void Pem_files_round_trip_the_certificate_and_key_with_the_key_private_to_its_owner()
    {
        var directory = Directory.CreateTempSubdirectory("walrus-certs-");
        try
        {
            var certPath = Path.Combine(directory.FullName, "node.crt");
            var keyPath = Path.Combine(directory.FullName, "node.key");
            var caPath = Path.Combine(directory.FullName, "ca.crt");

            DevCertificates.ExportPem(TestCertificates.NodeA, certPath, keyPath);
            DevCertificates.ExportPem(TestCertificates.ClusterCa, caPath);
            var loaded = DevCertificates.LoadPem(certPath, keyPath);
            var roots = DevCertificates.LoadCertificatesPem(caPath);

            Assert.Equal(TestCertificates.NodeA.Thumbprint, loaded.Thumbprint);
            Assert.True(loaded.HasPrivateKey);
            Assert.Equal(TestCertificates.ClusterCa.Thumbprint, Assert.Single(roots).Thumbprint);
            Assert.False(roots[0].HasPrivateKey);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Certificates_loaded_from_pem_serve_mutual_tls()
    {
        var directory = Directory.CreateTempSubdirectory("walrus-certs-");
        try
        {
            using var deadline = TestTransports.Deadline();
            DevCertificates.ExportPem(TestCertificates.NodeA, Path.Combine(directory.FullName, "a.crt"), Path.Combine(directory.FullName, "a.key"));
            DevCertificates.ExportPem(TestCertificates.ClusterCa, Path.Combine(directory.FullName, "ca.crt"));
            var nodeA = DevCertificates.LoadPem(Path.Combine(directory.FullName, "a.crt"), Path.Combine(directory.FullName, "a.key"));
            var roots = DevCertificates.LoadCertificatesPem(Path.Combine(directory.FullName, "ca.crt"));
            var server = TestTransports.Create(TransportMode.Tcp, nodeA, roots, requireClientCertificate: true);
            var client = TestTransports.Create(TransportMode.Tcp, TestCertificates.NodeB, roots);

            var (listener, serverSide, clientSide) = await TestTransports.ConnectPairAsync(server, client, deadline.Token);
            await using (listener)
            await using (serverSide)
            await using (clientSide)
            {
                Assert.Equal(nodeA.Thumbprint, clientSide.RemoteCertificate?.Thumbprint);
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
