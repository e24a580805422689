using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Configuration;
using WalrusGossip.Agent.Configuration;

namespace WalrusGossip.Agent.Tests;

/// <summary>Invalid configuration stops start-up with one clear message naming the setting, and exit code 2.</summary>
public sealed class ConfigurationTests
{
    [Theory]
    [InlineData(0, 1)]
    [InlineData(1, 0)]
    [InlineData(-5, 1)]
    public void A_checkpoint_interval_below_one_is_refused_naming_both_settings(long entries, long bytes)
    {
        var options = new AgentOptions();
        options.Node.Id = 1;
        options.Storage.CheckpointEveryEntries = entries;
        options.Storage.CheckpointEveryBytes = bytes;
        Assert.Contains(options.Validate(), p => p.Contains("Storage:CheckpointEveryEntries", StringComparison.Ordinal) && p.Contains("Storage:CheckpointEveryBytes", StringComparison.Ordinal));
    }

    [Fact]
    public void A_negative_retention_age_is_refused_naming_the_setting()
    {
        var options = new AgentOptions();
        options.Node.Id = 1;
        options.Storage.Retention.MaxAge = TimeSpan.FromHours(-1);
        Assert.Contains(options.Validate(), p => p.Contains("Storage:Retention:MaxAge", StringComparison.Ordinal));
    }

    [Fact]
    public void A_retention_age_binds_from_a_TimeSpan_string_and_is_a_known_key()
    {
        // The rest of this configuration is incomplete (no certificates): only the age key must raise no problem.
        LoadOrProblems(["--node-id=1", "--Storage:Retention:MaxAge=7.00:00:00"], out var problems);
        Assert.DoesNotContain(problems, p => p.Contains("MaxAge", StringComparison.Ordinal));

        var bound = new AgentOptions();
        new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Storage:Retention:MaxAge"] = "06:30:00" })
            .Build()
            .Bind(bound);
        Assert.Equal(TimeSpan.FromHours(6.5), bound.Storage.Retention.MaxAge);
        Assert.Equal(TimeSpan.Zero, new AgentOptions().Storage.Retention.MaxAge);
    }

    [Fact]
    public void A_retention_age_that_is_not_a_TimeSpan_is_refused_naming_the_setting()
    {
        LoadOrProblems(["--node-id=1", "--Storage:Retention:MaxAge=a-week"], out var problems);
        Assert.Contains(problems, p => p.Contains("Storage:Retention:MaxAge", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("--bogus-flag", "unknown option '--bogus-flag'")]
    [InlineData("--node-id=0", "Node:Id")]
    [InlineData("--client-listen=nowhere", "Network:ClientListen")]
    [InlineData("--fsync=sometimes", "Storage:Fsync")]
    [InlineData("--ca=/nonexistent/ca.pem", "Transport:CaFile")]
    [InlineData("--Gossip:Keys:0=not-base64!", "Gossip:Keys: a gossip key must be base64")]
    [InlineData("--Gossip:Keys:0=AAAA", "Gossip:Keys: a gossip key must be 16, 24 or 32 bytes")]
    [InlineData("--Gossip:ProtocolVersion=3", "Gossip:ProtocolVersion must be 1 or 2, got 3")]
    [InlineData("--Gossip:Colour=blue", "unknown configuration key 'Gossip:Colour'")]
    [InlineData("--Storage:Retention:MaxDays=3", "unknown configuration key 'Storage:Retention:MaxDays'")]
    [InlineData("--Telemetry:OtlpEndpoint=not a uri", "Telemetry:OtlpEndpoint must be an absolute URI")]
    [InlineData("--Cluster:ConsistencyCheckEntries=0", "Cluster:ConsistencyCheckEntries must be between 1 and 65536")]
    [InlineData("--Cluster:ConsistencyCheckInterval=-00:00:01", "Cluster:ConsistencyCheckInterval must not be negative")]
    public async Task Bad_settings_are_refused_naming_the_setting(string arg, string expected)
    {
        var (code, error) = await RunAgentAsync("--node-id", "1", "--data-dir", Path.Combine(Path.GetTempPath(), "walrus-cfg-" + Guid.NewGuid().ToString("N")), arg);
        Assert.Equal(2, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_and_version_exit_zero_and_list_every_flag()
    {
        var (code, output) = await RunAgentAsync("--help");
        Assert.Equal(0, code);
        foreach (var flag in AgentConfiguration.SwitchMappings.Keys)
        {
            Assert.Contains(flag, output, StringComparison.Ordinal);
        }

        Assert.Contains("dev-cluster", output, StringComparison.Ordinal);
        (code, output) = await RunAgentAsync("--version");
        Assert.Equal(0, code);
        Assert.StartsWith(typeof(AgentConfiguration).Assembly.GetName().Version!.ToString(3), output.Trim(), StringComparison.Ordinal);
        (code, output) = await RunAgentAsync("dev-cluster", "--help");
        Assert.Equal(0, code);
        Assert.Contains("--data-root", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("dev-cluster", "--nodes", "many")]
    [InlineData("stray-word", "--node-id", "1")]
    public async Task A_malformed_command_line_exits_2_with_the_problem_named(params string[] args)
    {
        var (code, error) = await RunAgentAsync(args);
        Assert.Equal(2, code);
        Assert.Contains("invalid configuration", error, StringComparison.Ordinal);
        Assert.Contains(args[0] == "dev-cluster" ? "--nodes" : "stray-word", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("auto", WalrusGossip.Storage.IO.IoEngine.Psync)]
    [InlineData("AUTO", WalrusGossip.Storage.IO.IoEngine.Psync)]
    [InlineData("psync", WalrusGossip.Storage.IO.IoEngine.Psync)]
    [InlineData("uring", WalrusGossip.Storage.IO.IoEngine.Uring)]
    public void The_agent_resolves_auto_to_psync_because_its_node_loop_waits_for_every_group_commit(string configured, WalrusGossip.Storage.IO.IoEngine expected) =>
        Assert.Equal(expected, Hosting.AgentService.AgentIoEngine(configured));

    [Fact]
    public async Task Unknown_keys_in_a_config_file_are_refused()
    {
        var file = Path.Combine(Path.GetTempPath(), "walrus-cfg-" + Guid.NewGuid().ToString("N") + ".json");
        await File.WriteAllTextAsync(file, """{ "Node": { "Id": 1, "DataDir": "/tmp/x", "Colour": "blue" } }""", TestContext.Current.CancellationToken);
        var (code, error) = await RunAgentAsync("--config", file);
        Assert.Equal(2, code);
        Assert.Contains("unknown configuration key 'Node:Colour'", error, StringComparison.Ordinal);
        File.Delete(file);
    }

    [Fact]
    public async Task A_port_in_use_and_an_unwritable_data_dir_are_named()
    {
        await using var agents = new AgentProcesses();
        agents.Reserve(1);
        var blocker = new TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var busy = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var certs = new[] { "--ca", Path.Combine(agents.Certs, "ca.pem"), "--cert", Path.Combine(agents.Certs, "node-1.pem"), "--key", Path.Combine(agents.Certs, "node-1.key") };
        var ports = agents.PortsOf(1);
        var common = new[] { "--node-id", "1", "--peer-listen", $"127.0.0.1:{ports.Peer}", "--gossip-listen", $"127.0.0.1:{ports.Gossip}", "--http-listen", $"127.0.0.1:{ports.Http}" };
        var (code, error) = await RunAgentAsync([.. common, .. certs, "--data-dir", agents.DataDirOf(1), "--client-listen", $"127.0.0.1:{busy}"]);
        blocker.Stop();
        Assert.Equal(2, code);
        Assert.Contains("Network:ClientListen", error, StringComparison.Ordinal);

        var file = Path.Combine(agents.Root, "plain-file");
        await File.WriteAllTextAsync(file, "x", TestContext.Current.CancellationToken);
        (code, error) = await RunAgentAsync([.. common, .. certs, "--data-dir", Path.Combine(file, "data"), "--client-listen", $"127.0.0.1:{ports.Client}"]);
        Assert.Equal(2, code);
        Assert.Contains("Node:DataDir", error, StringComparison.Ordinal);
    }

    /// <summary>Loads <paramref name="args"/>; returns the options when valid, else null with every problem reported.</summary>
    private static AgentOptions? LoadOrProblems(string[] args, out IReadOnlyList<string> problems)
    {
        try
        {
            problems = [];
            return AgentConfiguration.Load(args).Options;
        }
        catch (AgentConfigurationException e)
        {
            problems = e.Problems;
            return null;
        }
    }

    private static async Task<(int Code, string Error)> RunAgentAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "walrus-agent.dll"));
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
        return (process.ExitCode, await error + await output);
    }
}
