using System.Net;
using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Transport;

namespace WalrusGossip.Client.Tests.Fakes;

/// <summary>A dev CA and one agent certificate (127.0.0.1 and localhost), created once per test run, and the CA as a PEM file.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<(X509Certificate2 Ca, X509Certificate2 Agent, string CaFile)> Lazy = new(Create);

    public static X509Certificate2 Ca => Lazy.Value.Ca;

    public static X509Certificate2 Agent => Lazy.Value.Agent;

    /// <summary>PEM file holding <see cref="Ca"/>.</summary>
    public static string CaFile => Lazy.Value.CaFile;

    public static X509Certificate2Collection Roots => [X509CertificateLoader.LoadCertificate(Ca.RawData)];

    private static (X509Certificate2, X509Certificate2, string) Create()
    {
        var ca = DevCertificates.CreateCa("walrus-client-test-ca");
        var agent = DevCertificates.CreateNodeCertificate(ca, "fake-agent", [], [IPAddress.Loopback]);
        var directory = Directory.CreateTempSubdirectory("walrus-client-tests-").FullName;
        var caFile = Path.Combine(directory, "ca.pem");
        DevCertificates.ExportPem(ca, caFile);
        return (ca, agent, caFile);
    }
}
