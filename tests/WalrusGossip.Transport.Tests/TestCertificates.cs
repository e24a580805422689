using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace WalrusGossip.Transport.Tests;

/// <summary>Certificates shared by the tests: a cluster CA with two nodes, and a foreign CA with one node.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<Set> Lazy = new(Create);

    public static X509Certificate2 ClusterCa => Lazy.Value.ClusterCa;

    public static X509Certificate2 NodeA => Lazy.Value.NodeA;

    public static X509Certificate2 NodeB => Lazy.Value.NodeB;

    public static X509Certificate2 ForeignCa => Lazy.Value.ForeignCa;

    public static X509Certificate2 ForeignNode => Lazy.Value.ForeignNode;

    public static X509Certificate2Collection ClusterRoots => [X509CertificateLoader.LoadCertificate(ClusterCa.RawData)];

    public static X509Certificate2Collection ForeignRoots => [X509CertificateLoader.LoadCertificate(ForeignCa.RawData)];

    /// <summary>A server certificate from the cluster CA naming only <paramref name="dnsName"/> (no loopback names).</summary>
    public static X509Certificate2 SignedByClusterCa(string dnsName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={dnsName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(dnsName);
        request.CertificateExtensions.Add(san.Build());
        var now = DateTimeOffset.UtcNow;
        using var signed = request.Create(ClusterCa, now.AddMinutes(-5), now.AddDays(1), [1, 2, 3, 4]);
        return signed.CopyWithPrivateKey(key);
    }

    private static Set Create()
    {
        var clusterCa = DevCertificates.CreateCa("walrus-test-ca");
        var foreignCa = DevCertificates.CreateCa("someone-else-ca");
        return new Set(
            clusterCa,
            DevCertificates.CreateNodeCertificate(clusterCa, "node-a", ["node-a.test"], [IPAddress.Loopback]),
            DevCertificates.CreateNodeCertificate(clusterCa, "node-b", ["node-b.test"], [IPAddress.Loopback]),
            foreignCa,
            DevCertificates.CreateNodeCertificate(foreignCa, "intruder", [], [IPAddress.Loopback]));
    }

    private sealed record Set(X509Certificate2 ClusterCa, X509Certificate2 NodeA, X509Certificate2 NodeB, X509Certificate2 ForeignCa, X509Certificate2 ForeignNode);
}
