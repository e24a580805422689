using System.Diagnostics;
using System.Net;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Tests;

/// <summary>A running 3-agent cluster shared by the tests of one class.</summary>
public sealed class ThreeAgentCluster : IAsyncLifetime
{
    internal AgentProcesses Agents { get; } = new();

    public async ValueTask InitializeAsync()
    {
        Agents.Reserve(3);
        for (var id = 1; id <= 3; id++)
        {
            Agents.Start(id, ["--join", Agents.JoinList(3), "--bootstrap-expect", "3"]);
        }

        await Agents.LeaderAsync(TimeSpan.FromSeconds(60));
    }

    public async ValueTask DisposeAsync() => await Agents.DisposeAsync();
}

/// <summary>The agent's client and peer ports, walrusctl against real agents, and bad input.</summary>
[Collection(AgentCollection.Name)]
public sealed class AgentServiceTests(ThreeAgentCluster cluster) : IClassFixture<ThreeAgentCluster>
{
    private AgentProcesses Agents => cluster.Agents;

    [Fact]
    public async Task Walrusctl_append_stdin_then_read_round_trips_1000_lines_byte_for_byte()
    {
        var lines = Enumerable.Range(0, 1000).Select(i => $"line {i:D4} \u00e9\u00e8 {new string('x', i % 50)}").ToList();
        var endpoints = string.Join(',', Agents.ClientEndpoints([1, 2, 3]));
        var ca = Path.Combine(Agents.Certs, "ca.pem");
        var append = await RunWalrusctlAsync(string.Join('\n', lines) + "\n", "append", "--stdin", "--endpoints", endpoints, "--ca", ca);
        Assert.True(append.ExitCode == 0, append.Error);
        var indexes = append.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ulong.Parse).ToList();
        Assert.Equal(1000, indexes.Count);
        var read = await RunWalrusctlAsync(null, "read", "--from", indexes[0].ToString(System.Globalization.CultureInfo.InvariantCulture), "--count", "1000", "--json", "--endpoints", endpoints, "--ca", ca);
        Assert.True(read.ExitCode == 0, read.Error);
        var entries = JsonDocument.Parse(read.Output).RootElement.EnumerateArray().ToList();
        Assert.Equal(lines, entries.Take(1000).Select(e => Encoding.UTF8.GetString(e.GetProperty("payload").GetBytesFromBase64())));
        Assert.Equal(indexes, entries.Take(1000).Select(e => e.GetProperty("index").GetUInt64()));
    }

    [Fact]
    public async Task Walrusctl_compact_shows_every_agent_and_now_takes_a_checkpoint_on_each()
    {
        var endpoints = string.Join(',', Agents.ClientEndpoints([1, 2, 3]));
        var ca = Path.Combine(Agents.Certs, "ca.pem");
        var shown = await RunWalrusctlAsync(null, "compact", "--json", "--endpoints", endpoints, "--ca", ca);
        Assert.True(shown.ExitCode == 0, shown.Error);
        var before = JsonDocument.Parse(shown.Output).RootElement.EnumerateArray().ToList();
        Assert.Equal(3, before.Count);
        Assert.All(before, a => Assert.Equal(("max-bytes=0 max-entries=0", 1ul), (a.GetProperty("retention").GetString(), a.GetProperty("firstIndex").GetUInt64())));

        var started = await RunWalrusctlAsync(null, "compact", "--now", "--json", "--endpoints", endpoints, "--ca", ca);
        Assert.True(started.ExitCode == 0, started.Error);
        Assert.Equal(3, JsonDocument.Parse(started.Output).RootElement.GetArrayLength());
        await AgentProcesses.EventuallyAsync<object>(async () =>
        {
            var now = await RunWalrusctlAsync(null, "compact", "--json", "--endpoints", endpoints, "--ca", ca);
            var agents = JsonDocument.Parse(now.Output).RootElement.EnumerateArray().ToList();
            return agents.Count == 3 && agents.All(a => a.GetProperty("checkpointIndex").GetUInt64() > 0 && a.GetProperty("firstIndex").GetUInt64() == 1) ? agents : null;
        }, TimeSpan.FromSeconds(30), "a checkpoint on every agent");
    }

    [Fact]
    public async Task A_retried_append_whose_response_was_lost_returns_the_same_index_and_is_stored_once()
    {
        var leader = (int)await Agents.LeaderAsync(TimeSpan.FromSeconds(30));
        await using var connection = await ConnectClientAsync(leader, trusted: true);
        var request = new AppendRequest { RequestId = 1, ClientId = 0xC0FFEE, Sequence = 1, Payload = ByteString.CopyFromUtf8("only-once") };
        var first = await AppendAsync(connection, request);
        // The client never saw `first` (response lost): it retries the same (client id, sequence).
        request.RequestId = 2;
        var retry = await AppendAsync(connection, request);
        Assert.Equal(ResponseStatus.Ok, first.Status);
        Assert.Equal((ResponseStatus.Ok, first.Index), (retry.Status, retry.Index));
        await connection.SendAsync(MessageType.ReadRequest, new ReadRequest { RequestId = 3, FromIndex = first.Index, MaxCount = 100 }, TestContext.Current.CancellationToken);
        var read = (ReadResponse)(await connection.ReceiveAsync(TestContext.Current.CancellationToken))!.Value.Message;
        Assert.Single(read.Entries, e => e.Payload.ToStringUtf8() == "only-once");
    }

    [Fact]
    public async Task A_follower_forwards_an_append_to_the_leader_and_relays_the_committed_index()
    {
        var leader = (int)await Agents.LeaderAsync(TimeSpan.FromSeconds(30));
        var follower = new[] { 1, 2, 3 }.First(id => id != leader);
        await using var connection = await ConnectClientAsync(follower, trusted: true);
        var response = await AppendAsync(connection, new AppendRequest { RequestId = 41, ClientId = 0xF0F0, Sequence = 1, Payload = ByteString.CopyFromUtf8("via-follower") });
        Assert.Equal((ResponseStatus.Ok, 41ul), (response.Status, response.RequestId));
        Assert.True(response.Index > 0);
    }

    [Fact]
    public async Task A_tail_delivers_entries_appended_after_it_started()
    {
        var options = new Client.WalrusClientOptions { CaFile = Path.Combine(Agents.Certs, "ca.pem") };
        foreach (var e in Agents.ClientEndpoints([1, 2, 3]))
        {
            options.Endpoints.Add(e);
        }

        await using var client = new Client.WalrusClient(options);
        var first = await client.AppendAsync(Encoding.UTF8.GetBytes("tail-0"), cancellationToken: TestContext.Current.CancellationToken);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        stop.CancelAfter(TimeSpan.FromSeconds(30));
        var seen = new List<string>();
        var tail = Task.Run(async () =>
        {
            await foreach (var entry in client.TailAsync(first.Index, stop.Token))
            {
                seen.Add(Encoding.UTF8.GetString(entry.Payload.Span));
                if (seen.Count == 4)
                {
                    return;
                }
            }
        }, TestContext.Current.CancellationToken);
        for (var i = 1; i <= 3; i++)
        {
            await client.AppendAsync(Encoding.UTF8.GetBytes($"tail-{i}"), cancellationToken: TestContext.Current.CancellationToken);
        }

        await tail;
        Assert.Equal(["tail-0", "tail-1", "tail-2", "tail-3"], seen);
    }

    [Fact]
    public async Task A_peer_whose_certificate_is_not_from_the_cluster_CA_is_refused()
    {
        var foreignCa = DevCertificates.CreateCa("someone else's CA");
        var foreign = DevCertificates.CreateNodeCertificate(foreignCa, "intruder", ["localhost"], [IPAddress.Loopback]);
        var transport = TransportFactory.Create(new TransportOptions
        {
            Mode = TransportMode.Tcp,
            Certificate = foreign,
            TrustedRoots = [Agents.Ca],
        }, NullLogger.Instance, out _);
        var ports = Agents.PortsOf(1);
        var refused = false;
        try
        {
            await using var connection = await transport.ConnectAsync("127.0.0.1", ports.Peer, TestContext.Current.CancellationToken);
            await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Peer, NodeId = 99, Name = "intruder" }, TestContext.Current.CancellationToken);
        }
        catch (Exception e) when (e is AuthenticationException or IOException or ProtocolException)
        {
            refused = true;
        }

        Assert.True(refused, "the agent accepted a peer certificate from a foreign CA");
        Assert.NotNull(await Agents.StatusAsync(1));
    }

    [Fact]
    public async Task A_peer_whose_certificate_names_node_2_but_whose_hello_says_node_3_is_refused_and_logged()
    {
        using var node2 = DevCertificates.CreateNodeCertificate(Agents.Ca, "node-2", ["localhost"], [IPAddress.Loopback], nodeId: 2);
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Tcp, Certificate = node2, TrustedRoots = [Agents.Ca] }, NullLogger.Instance, out _);
        var ports = Agents.PortsOf(1);
        await using var connection = await transport.ConnectAsync("127.0.0.1", ports.Peer, TestContext.Current.CancellationToken);
        var refused = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Peer, NodeId = 3, Name = "impostor" }, TestContext.Current.CancellationToken));
        Assert.Equal(ProtocolErrorKind.HandshakeRejected, refused.Kind);
        Assert.Contains("certificate names node 2, its Hello node 3", refused.Message, StringComparison.Ordinal);
        await AgentProcesses.EventuallyAsync(async () => (await Agents.DiagnosticsAsync(400)).Contains("certificate names node 2, its Hello node 3", StringComparison.Ordinal) ? this : null,
            TimeSpan.FromSeconds(10), "the agent to log the refusal");
        Assert.NotNull(await Agents.StatusAsync(1));
    }

    [Theory]
    [InlineData("client")] // the cluster CA's client certificate (walrus://client/admin): never a node
    [InlineData("no-id")] // a node certificate of the cluster CA naming no node id: refused by default (Transport:RequirePeerNodeId)
    public async Task A_certificate_of_the_cluster_CA_that_names_no_node_cannot_speak_as_a_peer(string kind)
    {
        using var certificate = kind == "client"
            ? DevCertificates.CreateClientCertificate(Agents.Ca, "admin")
            : DevCertificates.CreateNodeCertificate(Agents.Ca, "tool", ["localhost"], [IPAddress.Loopback]);
        var transport = TransportFactory.Create(new TransportOptions { Mode = TransportMode.Tcp, Certificate = certificate, TrustedRoots = [Agents.Ca] }, NullLogger.Instance, out _);
        await using var connection = await transport.ConnectAsync("127.0.0.1", Agents.PortsOf(1).Peer, TestContext.Current.CancellationToken);
        var refused = await Assert.ThrowsAsync<ProtocolException>(async () =>
            await HelloHandshake.ConnectAsync(connection, new Hello { Role = ConnectionRole.Peer, NodeId = 3, Name = "impostor" }, TestContext.Current.CancellationToken));
        Assert.Equal(ProtocolErrorKind.HandshakeRejected, refused.Kind);
        Assert.Contains(kind == "client" ? "is a client certificate" : "names no node id", refused.Message, StringComparison.Ordinal);
        Assert.NotNull(await Agents.StatusAsync(1));
    }

    [Fact]
    public async Task Garbage_oversized_and_random_frames_close_only_that_connection()
    {
        var ports = Agents.PortsOf(2);
        var random = new Random(7);
        foreach (var port in new[] { ports.Client, ports.Peer })
        {
            for (var i = 0; i < 1000; i++)
            {
                await using var connection = await RawTlsAsync(port);
                var frame = new byte[random.Next(1, 64)];
                random.NextBytes(frame);
                if (i % 10 == 0)
                {
                    BitConverter.TryWriteBytes(frame, uint.MaxValue); // length far above MaxFrameBytes
                }

                await connection.Stream.WriteAsync(frame, TestContext.Current.CancellationToken);
                await connection.Stream.FlushAsync(TestContext.Current.CancellationToken);
                if (i % 100 == 0)
                {
                    // The agent keeps serving everyone else meanwhile.
                    await using var good = await ConnectClientAsync(2, trusted: true);
                    await good.SendAsync(MessageType.StatusRequest, new StatusRequest { RequestId = 1 }, TestContext.Current.CancellationToken);
                    var reply = await good.ReceiveAsync(TestContext.Current.CancellationToken);
                    Assert.IsType<StatusResponse>(reply!.Value.Message);
                }
            }
        }

        Assert.NotNull(await Agents.StatusAsync(2));
        var metrics = await AgentProcesses.MetricsAsync(ports.Http);
        Assert.Contains("walrus_protocol_errors_total", metrics, StringComparison.Ordinal);
        Assert.Contains("walrus_log_fsync_seconds_count", metrics, StringComparison.Ordinal);
        Assert.Contains("# TYPE walrus_log_fsync_seconds histogram", metrics, StringComparison.Ordinal);
        Assert.Contains("walrus_log_fsync_seconds_bucket{le=\"+Inf\"}", metrics, StringComparison.Ordinal);
        // walrus_append_latency_seconds appears once this agent has answered an append (HostingTests checks every name).
    }

    private Task<IFrameConnection> ConnectClientAsync(int id, bool trusted) => Agents.ConnectClientAsync(id, trusted);

    private static async Task<AppendResponse> AppendAsync(IFrameConnection connection, AppendRequest request)
    {
        await connection.SendAsync(MessageType.AppendRequest, request, TestContext.Current.CancellationToken);
        var reply = await connection.ReceiveAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        return (AppendResponse)reply!.Value.Message;
    }

    private async Task<RawTls> RawTlsAsync(int port)
    {
        var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, TestContext.Current.CancellationToken);
        var ssl = new System.Net.Security.SslStream(tcp.GetStream(), false, (_, _, _, _) => true);
        var client = DevCertificates.LoadPem(Path.Combine(Agents.Certs, "node-3.pem"), Path.Combine(Agents.Certs, "node-3.key"));
        await ssl.AuthenticateAsClientAsync(new System.Net.Security.SslClientAuthenticationOptions
        {
            TargetHost = "localhost",
            ApplicationProtocols = [new System.Net.Security.SslApplicationProtocol(ProtocolVersion.Alpn)],
            ClientCertificates = [client],
            EnabledSslProtocols = SslProtocols.Tls13,
        }, TestContext.Current.CancellationToken);
        return new RawTls(tcp, ssl);
    }

    private static Task<(int ExitCode, string Output, string Error)> RunWalrusctlAsync(string? stdin, params string[] args) => AgentProcesses.RunWalrusctlAsync(stdin, args);

    private sealed class RawTls(System.Net.Sockets.TcpClient tcp, System.Net.Security.SslStream stream) : IAsyncDisposable
    {
        public System.Net.Security.SslStream Stream { get; } = stream;

        public async ValueTask DisposeAsync()
        {
            await Stream.DisposeAsync();
            tcp.Dispose();
        }
    }
}
