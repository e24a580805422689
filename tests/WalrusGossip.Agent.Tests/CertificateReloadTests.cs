using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Tests;

/// <summary>
/// Certificate rotation on a real agent (issue 18 item 6): SIGHUP re-reads the certificate files; a valid certificate
/// of the same node takes effect for new connections (the expiry gauge and the status' expiry move, clients keep working), one naming
/// another node is refused and the old one stays.
/// </summary>
[Collection(AgentCollection.Name)]
public sealed partial class CertificateReloadTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SIGHUP_swaps_in_a_valid_certificate_and_refuses_one_naming_another_node()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agents = new AgentProcesses();
        agents.Reserve(1);
        agents.Start(1, ["--join", agents.JoinList(1), "--bootstrap-expect", "1"]);
        try
        {
            await agents.LeaderAsync(TimeSpan.FromSeconds(60));
            using var http = new HttpClient();
            var metricsUri = new Uri($"http://127.0.0.1:{agents.PortsOf(1).Http}/metrics");
            var before = Expiry(AgentProcesses.WithoutScope(await http.GetStringAsync(metricsUri, ct)));
            Assert.InRange(before, TimeSpan.FromDays(700).TotalSeconds, TimeSpan.FromDays(731).TotalSeconds); // the 2-year default

            var pem = Path.Combine(agents.Certs, "node-1.pem");
            var key = Path.Combine(agents.Certs, "node-1.key");
            using (var shorter = DevCertificates.CreateNodeCertificate(agents.Ca, "node-1", ["localhost"], [IPAddress.Loopback], TimeSpan.FromDays(30), nodeId: 1))
            {
                DevCertificates.ExportPem(shorter, pem, key);
            }

            agents.Hangup(1);
            var text = await AgentProcesses.EventuallyAsync(async () =>
            {
                var m = AgentProcesses.WithoutScope(await http.GetStringAsync(metricsUri, ct));
                return m.Contains("walrus_tls_certificate_reloads_total{result=\"ok\"} 1", StringComparison.Ordinal) ? m : null;
            }, TimeSpan.FromSeconds(20), "the reload to take effect");
            Assert.InRange(Expiry(text), TimeSpan.FromDays(29).TotalSeconds, TimeSpan.FromDays(30).TotalSeconds);

            // New connections authenticate with the new certificate.
            await using (var client = agents.NewClient(agents.ClientEndpoints([1])))
            {
                Assert.True((await client.AppendAsync("after reload"u8.ToArray(), cancellationToken: ct)).Index > 0);
                var notAfter = (await client.GetStatusAsync(ct)).CertificateNotAfter; // what walrusctl status shows ("cert expires")
                Assert.NotNull(notAfter);
                Assert.InRange((notAfter.Value - DateTimeOffset.UtcNow).TotalDays, 29, 30);
            }

            using (var other = DevCertificates.CreateNodeCertificate(agents.Ca, "node-1", ["localhost"], [IPAddress.Loopback], nodeId: 2))
            {
                DevCertificates.ExportPem(other, pem, key);
            }

            agents.Hangup(1);
            text = await AgentProcesses.EventuallyAsync(async () =>
            {
                var m = AgentProcesses.WithoutScope(await http.GetStringAsync(metricsUri, ct));
                return m.Contains("walrus_tls_certificate_reloads_total{result=\"refused\"} 1", StringComparison.Ordinal) ? m : null;
            }, TimeSpan.FromSeconds(20), "the refusal");
            Assert.InRange(Expiry(text), TimeSpan.FromDays(29).TotalSeconds, TimeSpan.FromDays(30).TotalSeconds); // still the 30-day one
        }
        catch
        {
            output.WriteLine(await agents.DiagnosticsAsync());
            throw;
        }
    }

    private static double Expiry(string metrics) =>
        double.Parse(ExpiryLine().Match(metrics).Groups[1].Value, CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^walrus_tls_certificate_expiry_seconds (\S+)$", RegexOptions.Multiline)]
    private static partial Regex ExpiryLine();
}
