using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using WalrusGossip.Cli;
using WalrusGossip.Cli.Cluster;
using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

/// <summary>walrusctl's cluster commands, run in-process against a fake agent.</summary>
public sealed class CliTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 60_000)]
    public async Task Append_stdin_then_read_json_round_trips_1000_lines_byte_for_byte()
    {
        await using var agent = await FakeAgent.StartAsync();
        var lines = Enumerable.Range(0, 1000).Select(Line).ToList();
        var stdin = new MemoryStream();
        foreach (var line in lines)
        {
            stdin.Write(line);
            stdin.WriteByte((byte)'\n');
        }

        stdin.Position = 0;
        var append = await RunAsync(stdin, "append", "--stdin", "--endpoints", agent.Endpoint, "--ca", TestCertificates.CaFile);

        Assert.Equal(0, append.ExitCode);
        Assert.Equal(Enumerable.Range(1, 1000).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), append.Lines);
        var read = await RunAsync(null, "read", "--from", "1", "--count", "1000", "--json", "--endpoints", agent.Endpoint, "--ca", TestCertificates.CaFile);

        Assert.Equal(0, read.ExitCode);
        using var json = JsonDocument.Parse(read.Output);
        var entries = json.RootElement.EnumerateArray().ToList();
        Assert.Equal(1000, entries.Count);
        for (var i = 0; i < entries.Count; i++)
        {
            var entry = entries[i];
            Assert.Equal((ulong)(i + 1), entry.GetProperty("index").GetUInt64());
            Assert.Equal(agent.Log.Term, entry.GetProperty("term").GetUInt64());
            Assert.Equal(JsonValueKind.Null, entry.GetProperty("stream").ValueKind);
            Assert.Equal(lines[i], entry.GetProperty("payload").GetBytesFromBase64());
            if (Utf8.IsValid(lines[i]))
            {
                Assert.Equal(Encoding.UTF8.GetString(lines[i]), entry.GetProperty("payloadText").GetString());
            }
            else
            {
                Assert.False(entry.TryGetProperty("payloadText", out _));
            }
        }
    }

    [Fact(Timeout = 30_000)]
    public async Task Append_arguments_prints_each_index_and_the_context_file_supplies_the_cluster()
    {
        await using var agent = await FakeAgent.StartAsync();
        var directory = Directory.CreateTempSubdirectory("walrusctl-context-").FullName;
        File.Copy(TestCertificates.CaFile, Path.Combine(directory, "ca.pem"));
        var context = Path.Combine(directory, "walrusctl.json");
        await File.WriteAllTextAsync(context, $$"""{ "endpoints": ["{{agent.Endpoint}}"], "ca": "ca.pem", "transport": "tcp" }""", Ct);

        var result = await RunAsync(null, "append", "hello", "wörld", "--stream", "greetings", "--context", context);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["1", "2"], result.Lines);
        Assert.Equal("wörld", agent.Log.Snapshot()[1].Payload.ToStringUtf8());
        Assert.Equal("greetings", agent.Log.Snapshot()[1].Stream);
        var tail = await RunAsync(null, "tail", "--from", "1", "--context", context);
        Assert.Equal(0, tail.ExitCode);
        Assert.Equal(["1\t3\tgreetings\thello", "2\t3\tgreetings\twörld"], tail.Lines);
    }

    [Fact(Timeout = 30_000)]
    public async Task Status_json_lists_every_node_with_role_term_indexes_leader_and_addresses()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        follower.Peers.Add((1, leader.Endpoint));

        var result = await RunAsync(null, "status", "--json", "--endpoints", follower.Endpoint, "--ca", TestCertificates.CaFile);

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        var nodes = json.RootElement.EnumerateArray().ToList();
        Assert.Equal([1ul, 2ul], nodes.Select(n => n.GetProperty("nodeId").GetUInt64()));
        Assert.Equal(["leader", "follower"], nodes.Select(n => n.GetProperty("role").GetString()));
        Assert.All(nodes, n => Assert.Equal(1ul, n.GetProperty("leaderId").GetUInt64()));
        Assert.All(nodes, n => Assert.Equal(log.Term, n.GetProperty("term").GetUInt64()));
        Assert.All(nodes, n => Assert.True(n.TryGetProperty("commitIndex", out _) && n.TryGetProperty("lastIndex", out _)));
        Assert.Equal(leader.Endpoint, nodes[0].GetProperty("addresses").GetProperty("client").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Status_members_and_transfer_leader_print_tables_and_messages()
    {
        await using var agent = await FakeAgent.StartAsync(5);

        var status = await RunAsync(null, "status", "--endpoints", agent.Endpoint, "--ca", TestCertificates.CaFile);
        var members = await RunAsync(null, "members", "--json", "--endpoints", agent.Endpoint, "--ca", TestCertificates.CaFile);
        var transfer = await RunAsync(null, "transfer-leader", "--to", "6", "--endpoints", agent.Endpoint, "--ca", TestCertificates.CaFile);

        Assert.Equal(0, status.ExitCode);
        Assert.Contains("leader", status.Output, StringComparison.Ordinal);
        Assert.Contains("node-5", status.Output, StringComparison.Ordinal);
        Assert.Equal(0, members.ExitCode);
        using var json = JsonDocument.Parse(members.Output);
        Assert.Equal(["alive", "suspect"], json.RootElement.EnumerateArray().Select(m => m.GetProperty("state").GetString()));
        Assert.Equal(0, transfer.ExitCode);
        Assert.Contains("node 6", transfer.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Usage_errors_exit_2_and_an_unreachable_cluster_exits_1()
    {
        var agent = await FakeAgent.StartAsync();
        var endpoint = agent.Endpoint;
        await agent.DisposeAsync();

        var both = await RunAsync(null, "append", "x", "--stdin", "--endpoints", endpoint);
        var badEndpoint = await RunAsync(null, "append", "x", "--endpoints", "nonsense");
        var missingContext = await RunAsync(null, "append", "x", "--context", "/nonexistent/walrusctl.json");
        var missingFrom = await RunAsync(null, "read", "--endpoints", endpoint);
        var unreachable = await RunAsync(null, "append", "x", "--endpoints", endpoint, "--ca", TestCertificates.CaFile);

        Assert.Equal(2, both.ExitCode);
        Assert.Equal(2, badEndpoint.ExitCode);
        Assert.Equal(2, missingContext.ExitCode);
        Assert.Equal(2, missingFrom.ExitCode);
        Assert.Equal(1, unreachable.ExitCode);
        Assert.Contains(endpoint, unreachable.Error, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Certs_init_creates_a_CA_and_node_certificates_that_chain_to_it()
    {
        var directory = Path.Combine(Directory.CreateTempSubdirectory("walrusctl-certs-").FullName, "certs");

        var first = await RunAsync(null, "certs", "init", "--out", directory, "--nodes", "node-1,node-2", "--hosts", "db.example,10.0.0.7");
        var again = await RunAsync(null, "certs", "init", "--out", directory, "--nodes", "node-2,node-3");

        Assert.Equal(0, first.ExitCode);
        Assert.Equal(0, again.ExitCode);
        foreach (var name in new[] { "ca.pem", "ca.key", "node-1.pem", "node-1.key", "node-2.pem", "node-2.key", "node-3.pem", "node-3.key" })
        {
            Assert.True(File.Exists(Path.Combine(directory, name)), name);
        }

        using var ca = X509CertificateLoader.LoadCertificateFromFile(Path.Combine(directory, "ca.pem"));
        using var node = Transport.DevCertificates.LoadPem(Path.Combine(directory, "node-3.pem"), Path.Combine(directory, "node-3.key"));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(chain.Build(node));
        Assert.True(Transport.NodeIdentity.TryGetNodeId(node, out var id)); // node-3 -> walrus://node/3
        Assert.Equal(3ul, id);
        var explicitIds = await RunAsync(null, "certs", "init", "--out", directory, "--nodes", "db-a", "--ids", "12");
        Assert.Equal(0, explicitIds.ExitCode);
        using (var dbA = Transport.DevCertificates.LoadPem(Path.Combine(directory, "db-a.pem"), Path.Combine(directory, "db-a.key")))
        {
            Assert.True(Transport.NodeIdentity.TryGetNodeId(dbA, out id));
            Assert.Equal(12ul, id);
        }

        var bad = await RunAsync(null, "certs", "init", "--out", directory, "--nodes", "../escape");
        Assert.Equal(2, bad.ExitCode);
        var wrongCount = await RunAsync(null, "certs", "init", "--out", directory, "--nodes", "x-1,x-2", "--ids", "1");
        Assert.Equal(2, wrongCount.ExitCode);
    }

    /// <summary>Line i of the round-trip test: ASCII, non-ASCII UTF-8, tabs, empty lines and bytes that are not UTF-8.</summary>
    private static byte[] Line(int i) => (i % 10) switch
    {
        0 => Encoding.UTF8.GetBytes($"line {i}"),
        1 => Encoding.UTF8.GetBytes($"ünïcödé {i} ✓ 🦭"),
        2 => [],
        3 => [0xFF, 0xFE, (byte)(i & 0x7F), 0x80],
        4 => Encoding.UTF8.GetBytes($"\ttabs\tand \"quotes\" {i}\\"),
        5 => Encoding.UTF8.GetBytes(new string('x', i)),
        _ => Encoding.UTF8.GetBytes($"{i}: {Guid.NewGuid()}"),
    };

    private static async Task<CliResult> RunAsync(Stream? stdin, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = CliConsole.ForBuffers(stdin ?? new MemoryStream(), output, error);
        var root = ClusterCommands.CreateRoot(console);
        var exitCode = await CliRunner.RunAsync(root, args, output, error, Ct);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    private sealed record CliResult(int ExitCode, string Output, string Error)
    {
        public string[] Lines => Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }
}
