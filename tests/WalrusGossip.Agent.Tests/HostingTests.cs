using System.Net.Sockets;
using System.Text;

namespace WalrusGossip.Agent.Tests;

/// <summary>systemd <c>Type=notify</c> (sd_notify(3)), journald-friendly console lines, Serilog sinks from the <c>Serilog</c> section and the OpenTelemetry <c>/metrics</c>, on real agents.</summary>
[Collection(AgentCollection.Name)]
public sealed class HostingTests
{
    [Fact]
    public async Task Agents_notify_systemd_ready_once_they_know_a_leader_and_stopping_on_SIGTERM()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(3);
        var sockets = new Dictionary<int, Socket>();
        var customLog = Path.Combine(agents.Root, "serilog-from-config.log");
        try
        {
            for (var id = 1; id <= 3; id++)
            {
                var path = Path.Combine(agents.Root, $"notify-{id}.sock");
                var socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
                socket.Bind(new UnixDomainSocketEndPoint(path));
                sockets[id] = socket;
                var environment = new Dictionary<string, string> { ["NOTIFY_SOCKET"] = path };
                string[] extra = ["--join", agents.JoinList(3), "--bootstrap-expect", "3"];
                if (id == 1)
                {
                    environment["JOURNAL_STREAM"] = "8:12345"; // as systemd sets it for a unit whose stdout is the journal
                }
                else if (id == 2)
                {
                    extra = [.. extra, "--Serilog:WriteTo:0:Name=File", $"--Serilog:WriteTo:0:Args:path={customLog}"];
                }

                agents.Start(id, extra, environment);
            }

            foreach (var (id, socket) in sockets)
            {
                Assert.Contains("READY=1", await ReceiveAsync(socket, "READY=1"), StringComparison.Ordinal);
                var status = await agents.StatusAsync(id);
                Assert.True(status!.Value.GetProperty("leaderId").GetUInt64() > 0, $"agent {id} reported ready without a leader");
            }

            // /health (live) and /ready (has a leader, applied what it knows committed), through the framework's health checks.
            using (var http = new HttpClient())
            {
                Assert.Equal("ok\n", await http.GetStringAsync(new Uri($"http://127.0.0.1:{agents.PortsOf(1).Http}/health"), TestContext.Current.CancellationToken));
                var ready = await AgentProcesses.EventuallyAsync(async () =>
                {
                    using var answer = await http.GetAsync(new Uri($"http://127.0.0.1:{agents.PortsOf(1).Http}/ready"), TestContext.Current.CancellationToken);
                    return answer.IsSuccessStatusCode ? await answer.Content.ReadAsStringAsync(TestContext.Current.CancellationToken) : null;
                }, TimeSpan.FromSeconds(30), "agent 1 to be ready");
                Assert.Equal("ready\n", ready);
            }

            // Every metric name of the hand-written exporter is still served by the OpenTelemetry one, with the runtime's and the transport's.
            await using (var client = agents.NewClient(agents.ClientEndpoints([1, 2])))
            {
                await client.AppendAsync(Encoding.UTF8.GetBytes("metrics"));
            }

            var leader = await agents.LeaderAsync(TimeSpan.FromSeconds(30));
            var metrics = await AgentProcesses.MetricsAsync(agents.PortsOf((int)leader).Http);
            foreach (var name in MetricNames)
            {
                Assert.Matches($"(?m)^{name}[ {{]", metrics);
            }

            await agents.StopAsync(3);
            Assert.Contains("STOPPING=1", await ReceiveAsync(sockets[3], "STOPPING=1"), StringComparison.Ordinal);

            // Agent 1 writes journald lines: a syslog priority prefix and no timestamp of its own.
            var journal = await File.ReadAllLinesAsync(Path.Combine(agents.Root, "node-1.out"), TestContext.Current.CancellationToken);
            Assert.Contains(journal, l => l.StartsWith("<6>node=1 ", StringComparison.Ordinal));
            Assert.DoesNotContain(journal, l => l.Contains("[INF]", StringComparison.Ordinal));

            // Agent 2's Serilog:WriteTo replaced the default sinks: its lines go to the configured file, none to the console.
            Assert.Contains("joined: leader", await File.ReadAllTextAsync(customLog, TestContext.Current.CancellationToken), StringComparison.Ordinal);
            Assert.DoesNotContain(await File.ReadAllLinesAsync(Path.Combine(agents.Root, "node-2.out"), TestContext.Current.CancellationToken), l => l.Contains("[INF]", StringComparison.Ordinal));
        }
        finally
        {
            foreach (var socket in sockets.Values)
            {
                socket.Dispose();
            }
        }
    }

    private static readonly string[] MetricNames =
    [
        "walrus_raft_role", "walrus_raft_term", "walrus_raft_commit_index", "walrus_raft_applied_index", "walrus_log_last_index", "walrus_log_segments",
        "walrus_log_bytes", "walrus_client_connections", "walrus_protocol_errors_total", "walrus_swim_members", "walrus_log_fsync_seconds_bucket",
        "walrus_log_fsync_seconds_count", "walrus_append_latency_seconds_bucket", "walrus_append_latency_seconds_sum", "walrus_client_overloaded_total",
        "walrus_tls_certificate_expiry_seconds", "walrus_tls_certificate_reloads_total", "walrus_auth_denied_total", "walrus_autopilot_changes_total",
        "walrus_autopilot_uncertified_total", "walrus_member_changes_total", "walrus_raft_removed", "walrus_gossip_keys", "walrus_gossip_dropped_total",
        "walrus_swim_received_total", "walrus_swim_dropped_total", "walrus_swim_refutations_total", "walrus_swim_failed_probes_total", "walrus_swim_broadcasts_dropped_total",
        "walrus_consistency_checks_total", "walrus_consistency_compared_total", "walrus_consistency_mismatches_total", "walrus_repair_in_progress",
        "walrus_repair_damaged_ranges_total", "walrus_repair_entries_total", "walrus_repair_rejected_total", "walrus_repair_dropped_below_checkpoint_total", "walrus_repair_replaced_by_checkpoint_total", "walrus_raft_voters", "walrus_raft_learners",
        "walrus_dotnet_gc_heap_bytes", "walrus_dotnet_gc_committed_bytes", "walrus_dotnet_threadpool_threads",
        "walrus_transport_frames_sent_total", "walrus_transport_tls_handshake_failures_total", "dotnet_gc_collections", "dotnet_process_cpu_time_seconds",
    ];

    /// <summary>Datagrams from the notify socket until one contains <paramref name="wanted"/>, within 60 s.</summary>
    private static async Task<string> ReceiveAsync(Socket socket, string wanted)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(60));
        var buffer = new byte[4096];
        while (true)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, deadline.Token);
            var message = Encoding.UTF8.GetString(buffer, 0, n);
            if (message.Contains(wanted, StringComparison.Ordinal))
            {
                return message;
            }
        }
    }
}
