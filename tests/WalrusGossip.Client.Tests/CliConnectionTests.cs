using System.Net;
using System.Net.Sockets;
using System.Reflection;
using System.Text.Json;
using WalrusGossip.Cli;
using WalrusGossip.Cli.Cluster;
using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

/// <summary>walrusctl's connection settings (flags, WALRUS_* variables, context), --timeout, version and endpoint health.</summary>
public sealed class CliConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact(Timeout = 30_000)]
    public async Task Endpoints_come_from_the_flag_then_WALRUS_ENDPOINTS_then_the_context()
    {
        await using var fromFlag = await FakeAgent.StartAsync(1);
        await using var fromVariable = await FakeAgent.StartAsync(2);
        await using var fromContext = await FakeAgent.StartAsync(3);
        var context = await WriteContextAsync(fromContext.Endpoint);

        var variableOverContext = await RunAsync(Env(("WALRUS_CONTEXT", context), ("WALRUS_ENDPOINTS", fromVariable.Endpoint)), "status", "--json");
        var flagOverVariable = await RunAsync(Env(("WALRUS_CONTEXT", context), ("WALRUS_ENDPOINTS", fromVariable.Endpoint)), "status", "--json", "--endpoints", fromFlag.Endpoint);
        var contextAlone = await RunAsync(Env(("WALRUS_CONTEXT", context)), "status", "--json");
        var variableAlone = await RunAsync(Env(("WALRUS_ENDPOINTS", fromVariable.Endpoint)), "status", "--json", "--ca", TestCertificates.CaFile);

        Assert.Equal([2ul], NodeIds(variableOverContext));
        Assert.Equal([1ul], NodeIds(flagOverVariable));
        Assert.Equal([3ul], NodeIds(contextAlone));
        Assert.Equal([2ul], NodeIds(variableAlone));
    }

    [Fact(Timeout = 30_000)]
    public async Task The_context_flag_beats_WALRUS_CONTEXT_and_a_missing_WALRUS_CONTEXT_file_is_a_usage_error_naming_it()
    {
        await using var agent = await FakeAgent.StartAsync(4);
        var context = await WriteContextAsync(agent.Endpoint);
        var missing = Path.Combine(Path.GetTempPath(), "walrusctl-missing-" + Guid.NewGuid().ToString("N"), "walrusctl.json");

        var flag = await RunAsync(Env(("WALRUS_CONTEXT", missing)), "status", "--json", "--context", context);
        var variable = await RunAsync(Env(("WALRUS_CONTEXT", missing)), "status", "--json");
        var nothing = await RunAsync(Env(), "status");

        Assert.Equal(0, flag.ExitCode);
        Assert.Equal([4ul], NodeIds(flag));
        Assert.Equal(2, variable.ExitCode);
        Assert.Contains(missing, variable.Error, StringComparison.Ordinal);
        Assert.Contains("WALRUS_CONTEXT", variable.Error, StringComparison.Ordinal);
        Assert.Equal(2, nothing.ExitCode);
        Assert.Contains("WALRUS_ENDPOINTS", nothing.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5_000)]
    [InlineData("1.5s", 1_500)]
    [InlineData("2m", 120_000)]
    [InlineData("1h", 3_600_000)]
    [InlineData("3", 3_000)]
    public void Timeout_values_parse_with_a_unit_or_as_seconds(string text, int milliseconds)
    {
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), CommandDeadline.Parse(text));
    }

    [Theory(Timeout = 30_000)]
    [InlineData("5x")]
    [InlineData("0")]
    [InlineData("-1s")]
    [InlineData("s")]
    [InlineData("25h")]
    public async Task A_bad_timeout_is_a_usage_error_that_says_what_a_duration_looks_like(string text)
    {
        Assert.Throws<ArgumentException>(() => CommandDeadline.Parse(text));
        var result = await RunAsync(Env(), "status", "--endpoints", "127.0.0.1:1", "--timeout", text);

        Assert.Equal(CliRunner.UsageOrIoError, result.ExitCode);
        Assert.Contains($"--timeout '{text}'", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact(Timeout = 30_000)]
    public async Task An_endpoint_that_never_answers_times_out_with_exit_3_and_a_clear_message()
    {
        using var silent = new TcpListener(IPAddress.Loopback, 0);
        silent.Start();
        var endpoint = $"127.0.0.1:{((IPEndPoint)silent.LocalEndpoint).Port}";
        var accepted = new List<TcpClient>();
        var accepting = Task.Run(async () =>
        {
            while (true)
            {
                accepted.Add(await silent.AcceptTcpClientAsync(Ct));
            }
        }, Ct);

        var started = System.Diagnostics.Stopwatch.StartNew();
        var append = await RunAsync(Env(), "append", "x", "--endpoints", endpoint, "--ca", TestCertificates.CaFile, "--timeout", "300ms");
        var status = await RunAsync(Env(), "status", "--json", "--endpoints", endpoint, "--ca", TestCertificates.CaFile, "--timeout", "300ms");
        var elapsed = started.Elapsed;
        silent.Stop();
        foreach (var client in accepted.ToArray())
        {
            client.Dispose();
        }

        Assert.Equal(CliRunner.TimedOut, append.ExitCode);
        Assert.Contains("timed out after 300ms (--timeout)", append.Error, StringComparison.Ordinal);
        Assert.Equal(CliRunner.TimedOut, status.ExitCode);
        Assert.Contains("timed out after 300ms", status.Error, StringComparison.Ordinal);
        Assert.True(elapsed < TimeSpan.FromSeconds(10), $"took {elapsed}");
    }

    [Fact(Timeout = 30_000)]
    public async Task Version_prints_the_client_version_alone_without_a_cluster_and_every_agents_version_with_one()
    {
        var expected = typeof(CliRunner).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        await using var agent = await FakeAgent.StartAsync(7);

        var alone = await RunAsync(Env(), "version");
        var clientOnly = await RunAsync(Env(("WALRUS_ENDPOINTS", agent.Endpoint)), "version", "--client");
        var withCluster = await RunAsync(Env(("WALRUS_ENDPOINTS", agent.Endpoint)), "version", "--json", "--ca", TestCertificates.CaFile);

        Assert.Equal(0, alone.ExitCode);
        Assert.Equal($"walrusctl {expected}", alone.Output.Trim());
        Assert.Equal(HealthCommands.ClientVersion, expected);
        Assert.Matches(@"^\d+\.\d+\.\d+", expected);
        Assert.Equal($"walrusctl {expected}", clientOnly.Output.Trim());
        Assert.Equal(0, withCluster.ExitCode);
        using var json = JsonDocument.Parse(withCluster.Output);
        Assert.Equal(expected, json.RootElement.GetProperty("client").GetString());
        var agents = json.RootElement.GetProperty("agents").EnumerateArray().ToList();
        Assert.Single(agents);
        Assert.Equal(7ul, agents[0].GetProperty("nodeId").GetUInt64());
        Assert.Equal("fake", agents[0].GetProperty("version").GetString());
    }

    [Fact(Timeout = 30_000)]
    public async Task Endpoint_health_passes_when_a_majority_is_healthy_and_agrees_on_the_leader()
    {
        var log = new FakeLog();
        await using var leader = await FakeAgent.StartAsync(1, log);
        await using var follower = await FakeAgent.StartAsync(2, log);
        follower.Leader = leader;
        var dead = await DeadEndpointAsync();

        var result = await RunAsync(Env(), "endpoint", "health", "--json", "--endpoints", $"{leader.Endpoint},{follower.Endpoint},{dead}", "--ca", TestCertificates.CaFile);
        var table = await RunAsync(Env(), "endpoint", "health", "--endpoints", $"{leader.Endpoint},{follower.Endpoint},{dead}", "--ca", TestCertificates.CaFile);

        Assert.Equal(0, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        Assert.True(json.RootElement.GetProperty("healthy").GetBoolean());
        Assert.Equal(2, json.RootElement.GetProperty("quorum").GetInt32());
        Assert.Equal(2, json.RootElement.GetProperty("healthyCount").GetInt32());
        Assert.Equal(1ul, json.RootElement.GetProperty("leaderId").GetUInt64());
        var endpoints = json.RootElement.GetProperty("endpoints").EnumerateArray().ToList();
        Assert.Equal([true, true, false], endpoints.Select(e => e.GetProperty("healthy").GetBoolean()));
        Assert.Contains(dead, endpoints[2].GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("2 of 3 endpoints healthy (quorum 2), leader 1", table.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task Endpoint_health_fails_without_a_quorum_of_reachable_endpoints()
    {
        await using var agent = await FakeAgent.StartAsync(1);
        var dead1 = await DeadEndpointAsync();
        var dead2 = await DeadEndpointAsync();

        var result = await RunAsync(Env(), "endpoint", "health", "--endpoints", $"{agent.Endpoint},{dead1},{dead2}", "--ca", TestCertificates.CaFile);
        var allDead = await RunAsync(Env(), "endpoint", "health", "--json", "--endpoints", $"{dead1},{dead2}", "--ca", TestCertificates.CaFile);

        Assert.Equal(CliRunner.Unhealthy, result.ExitCode);
        Assert.Contains("no quorum: 1 of 3 endpoints healthy and agreeing on a leader, 2 needed", result.Output, StringComparison.Ordinal);
        Assert.Contains(dead1, result.Output, StringComparison.Ordinal);
        Assert.Equal(CliRunner.Unhealthy, allDead.ExitCode);
        using var json = JsonDocument.Parse(allDead.Output);
        Assert.False(json.RootElement.GetProperty("healthy").GetBoolean());
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("leaderId").ValueKind);
    }

    [Fact(Timeout = 30_000)]
    public async Task Endpoint_health_fails_when_the_healthy_endpoints_name_different_leaders()
    {
        await using var one = await FakeAgent.StartAsync(1);
        await using var two = await FakeAgent.StartAsync(2);

        var result = await RunAsync(Env(), "endpoint", "health", "--json", "--endpoints", $"{one.Endpoint},{two.Endpoint}", "--ca", TestCertificates.CaFile);

        Assert.Equal(CliRunner.Unhealthy, result.ExitCode);
        using var json = JsonDocument.Parse(result.Output);
        Assert.Equal(2, json.RootElement.GetProperty("healthyCount").GetInt32());
        Assert.False(json.RootElement.GetProperty("healthy").GetBoolean());
    }

    [Fact(Timeout = 30_000)]
    public async Task Append_and_transfer_leader_print_json_when_asked()
    {
        await using var agent = await FakeAgent.StartAsync(5);

        var append = await RunAsync(Env(("WALRUS_ENDPOINTS", agent.Endpoint)), "append", "a", "b", "--stream", "s", "--json", "--ca", TestCertificates.CaFile);
        var transfer = await RunAsync(Env(("WALRUS_ENDPOINTS", agent.Endpoint)), "transfer-leader", "--to", "6", "--json", "--ca", TestCertificates.CaFile);

        Assert.Equal(0, append.ExitCode);
        var lines = append.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, lines.Length);
        using (var first = JsonDocument.Parse(lines[1]))
        {
            Assert.Equal(2ul, first.RootElement.GetProperty("index").GetUInt64());
            Assert.True(first.RootElement.TryGetProperty("streamSequence", out _));
        }

        Assert.Equal(0, transfer.ExitCode);
        using var json = JsonDocument.Parse(transfer.Output);
        Assert.Equal(6ul, json.RootElement.GetProperty("target").GetUInt64());
    }

    private static Dictionary<string, string> Env(params (string Name, string Value)[] variables) =>
        variables.ToDictionary(v => v.Name, v => v.Value, StringComparer.Ordinal);

    private static ulong[] NodeIds(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.Error);
        using var json = JsonDocument.Parse(result.Output);
        return [.. json.RootElement.EnumerateArray().Select(n => n.GetProperty("nodeId").GetUInt64())];
    }

    private static async Task<string> WriteContextAsync(string endpoint)
    {
        var directory = Directory.CreateTempSubdirectory("walrusctl-env-").FullName;
        File.Copy(TestCertificates.CaFile, Path.Combine(directory, "ca.pem"));
        var context = Path.Combine(directory, "walrusctl.json");
        await File.WriteAllTextAsync(context, $$"""{ "endpoints": ["{{endpoint}}"], "ca": "ca.pem", "transport": "tcp" }""", Ct);
        return context;
    }

    private static async Task<string> DeadEndpointAsync()
    {
        var agent = await FakeAgent.StartAsync();
        var endpoint = agent.Endpoint;
        await agent.DisposeAsync();
        return endpoint;
    }

    private static async Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var console = CliConsole.ForBuffers(new MemoryStream(), output, error, environment);
        var root = ClusterCommands.CreateRoot(console);
        var exitCode = await CliRunner.RunAsync(root, args, output, error, Ct);
        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    private sealed record CliResult(int ExitCode, string Output, string Error);
}
