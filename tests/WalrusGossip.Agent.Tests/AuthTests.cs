using System.Text;
using WalrusGossip.Client;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Tests;

/// <summary>
/// Client authentication and authorization on real agents (issue 18 items 1-2): with Security:RequireClientAuth on, a
/// client without a certificate or token is refused; the admin client certificate creates roles and tokens in the
/// replicated state; a read-only token reads but cannot append (PERMISSION_DENIED), an admin token can; a stream-limited
/// role appends only to its streams; a revoked token is refused; every agent enforces the same policy.
/// </summary>
[Collection(AgentCollection.Name)]
public sealed class AuthTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Clients_are_authenticated_and_each_request_needs_a_permission_of_the_callers_roles()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            agents.Start(id, ["--join", agents.JoinList(3), "--bootstrap-expect", "3", "--Security:RequireClientAuth=true"]);
        }

        try
        {
            await agents.LeaderAsync(TimeSpan.FromSeconds(60));
            var endpoints = agents.ClientEndpoints([1, 2, 3]);
            var adminCert = Path.Combine(agents.Certs, "admin.pem");
            var adminKey = Path.Combine(agents.Certs, "admin.key");
            using (var admin = DevCertificates.CreateClientCertificate(agents.Ca, "admin"))
            {
                DevCertificates.ExportPem(admin, adminCert, adminKey);
            }

            // No certificate, no token: refused at Hello with a typed error, not retried as a connection failure.
            await using (var anonymous = Client(agents, endpoints))
            {
                var refused = await Assert.ThrowsAsync<WalrusAuthenticationException>(() => anonymous.AppendAsync(Encoding.UTF8.GetBytes("x"), cancellationToken: ct));
                Assert.Contains("authentication required", refused.Message, StringComparison.Ordinal);
            }

            var denied = await AgentProcesses.RunWalrusctlAsync(null, "--endpoints", string.Join(',', endpoints), "--ca", Path.Combine(agents.Certs, "ca.pem"), "status");
            Assert.Equal(1, denied.ExitCode);

            // The admin certificate (Security:AdminIdentities defaults to "admin") defines a read-only role and two tokens.
            string readOnly, writer, orders;
            await using (var admin = Client(agents, endpoints, o => { o.ClientCertificateFile = adminCert; o.ClientKeyFile = adminKey; }))
            {
                var me = await admin.GetAuthAsync(ct);
                Assert.Equal("cert:admin", me.Caller);
                Assert.Contains("admin", me.CallerRoles);
                await admin.PutRoleAsync("reader", ["read", "tail"], cancellationToken: ct);
                await admin.PutRoleAsync("orders-writer", ["append"], "orders.", ct);
                readOnly = (await admin.CreateTokenAsync("dashboard", ["reader"], ct)).Token!;
                writer = (await admin.CreateTokenAsync("ingest", ["admin"], ct)).Token!;
                orders = (await admin.CreateTokenAsync("orders", ["orders-writer"], ct)).Token!;
                Assert.Equal(3, (await admin.GetAuthAsync(ct)).Tokens.Count);
            }

            ulong index;
            await using (var ingest = Client(agents, endpoints, o => o.Token = writer))
            {
                index = (await ingest.AppendAsync(Encoding.UTF8.GetBytes("by admin token"), cancellationToken: ct)).Index;
            }

            // Every agent enforces the policy it applied: the read-only token reads from each one and appends on none.
            foreach (var endpoint in endpoints)
            {
                await using var dashboard = Client(agents, [endpoint], o => o.Token = readOnly);
                var entry = await AgentProcesses.EventuallyAsync<LogEntry>(async () =>
                {
                    try
                    {
                        return await dashboard.ReadAsync(index, Consistency.Stale, ct);
                    }
                    catch (WalrusException)
                    {
                        return null; // this agent has not applied the entry yet
                    }
                }, TimeSpan.FromSeconds(20), $"entry {index} readable at {endpoint}");
                Assert.Equal("by admin token", Encoding.UTF8.GetString(entry!.Payload.Span));
                var e = await Assert.ThrowsAsync<WalrusPermissionDeniedException>(() => dashboard.AppendAsync(Encoding.UTF8.GetBytes("not allowed"), cancellationToken: ct));
                Assert.Contains("lacks the append permission", e.Message, StringComparison.Ordinal);
                await Assert.ThrowsAsync<WalrusPermissionDeniedException>(() => dashboard.TransferLeaderAsync(1, ct));
            }

            // A role limited to a stream prefix appends there and nowhere else.
            await using (var ordersClient = Client(agents, endpoints, o => o.Token = orders))
            {
                Assert.True((await ordersClient.AppendAsync(Encoding.UTF8.GetBytes("o-1"), "orders.eu", ct)).Index > index);
                await Assert.ThrowsAsync<WalrusPermissionDeniedException>(() => ordersClient.AppendAsync(Encoding.UTF8.GetBytes("b-1"), "billing", ct));
                await Assert.ThrowsAsync<WalrusPermissionDeniedException>(() => ordersClient.AppendAsync(Encoding.UTF8.GetBytes("untagged"), cancellationToken: ct));
            }

            // walrusctl with the admin certificate revokes the read-only token; a new connection with it is refused.
            var revoke = await AgentProcesses.RunWalrusctlAsync(null, "--endpoints", string.Join(',', endpoints), "--ca", Path.Combine(agents.Certs, "ca.pem"),
                "--cert", adminCert, "--key", adminKey, "auth", "token", "revoke", "dashboard");
            Assert.True(revoke.ExitCode == 0, revoke.Error);
            foreach (var endpoint in endpoints)
            {
                await AgentProcesses.EventuallyAsync<object>(async () =>
                {
                    await using var stale = Client(agents, [endpoint], o => o.Token = readOnly);
                    try
                    {
                        await stale.ReadAsync(index, Consistency.Stale, ct);
                        return null;
                    }
                    catch (WalrusAuthenticationException)
                    {
                        return (object?)new object();
                    }
                }, TimeSpan.FromSeconds(20), $"revoked token refused at {endpoint}");
            }

            var metrics = await AgentProcesses.MetricsAsync(agents.PortsOf(1).Http);
            Assert.Matches(@"walrus_auth_denied_total\{reason=""permission_denied""\} [1-9]", metrics);
            Assert.Matches(@"walrus_auth_denied_total\{reason=""unauthenticated""\} [1-9]", metrics);
        }
        catch
        {
            output.WriteLine(await agents.DiagnosticsAsync());
            throw;
        }
    }

    private static WalrusClient Client(AgentProcesses agents, string[] endpoints, Action<WalrusClientOptions>? configure = null)
    {
        var options = new WalrusClientOptions { CaFile = Path.Combine(agents.Certs, "ca.pem"), RequestTimeout = TimeSpan.FromSeconds(5), MaxRetries = 10 };
        foreach (var e in endpoints)
        {
            options.Endpoints.Add(e);
        }

        configure?.Invoke(options);
        return new WalrusClient(options);
    }
}
