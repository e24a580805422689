using WalrusGossip.Simulation.Cli;

namespace WalrusGossip.Simulation.Tests;

public sealed class CliTests
{
    [Theory]
    [InlineData("run", "--seed", "1", "--bogus")]
    [InlineData("run")]
    [InlineData("run", "--seed", "x")]
    [InlineData("run", "--seed", "1", "--nodes", "4")]
    [InlineData("run", "--seed", "1", "--faults", "lightning")]
    [InlineData("run", "--seed", "1", "--inject-bug", "no-such-bug")]
    [InlineData("run", "--seed", "1", "--steps", "0")]
    [InlineData("run", "--seed", "1", "--steps", "10", "--sim-seconds", "5")]
    [InlineData("sweep", "--seeds", "10-1")]
    [InlineData("sweep", "--seeds", "1-")]
    [InlineData("sweep", "--seeds", "")]
    [InlineData("sweep", "--seeds", "a-b")]
    [InlineData("frobnicate")]
    public async Task Bad_input_is_a_usage_error_with_exit_code_2(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await SimCli.RunAsync(args, stdout, stderr);

        Assert.Equal(2, code);
        Assert.Contains("walrus-sim:", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_prints_the_trace_hash_and_exits_0_when_every_check_holds()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await SimCli.RunAsync(["run", "--seed", "7", "--sim-seconds", "20", "--trace-hash"], stdout, stderr);

        Assert.Equal(0, code);
        Assert.Matches("trace-hash [0-9a-f]{64}", stdout.ToString());
    }

    [Fact]
    public async Task A_violation_exits_1_and_prints_the_property_step_and_replay_command()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await SimCli.RunAsync(["run", "--seed", "1", "--inject-bug", "ack-before-fsync"], stdout, stderr);

        Assert.Equal(1, code);
        var text = stdout.ToString();
        Assert.Contains("VIOLATION", text, StringComparison.Ordinal);
        Assert.Contains(" at step ", text, StringComparison.Ordinal);
        Assert.Contains("replay: walrus-sim run --seed 1 --nodes 5 --sim-seconds 120 --faults all --inject-bug ack-before-fsync", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Sweep_json_reports_every_seed()
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();

        var code = await SimCli.RunAsync(["sweep", "--seeds", "1-2", "--nodes", "3", "--sim-seconds", "20", "--json"], stdout, stderr);

        Assert.Equal(0, code);
        using var json = System.Text.Json.JsonDocument.Parse(stdout.ToString());
        Assert.Equal(2, json.RootElement.GetProperty("runs").GetInt32());
        Assert.Equal(0, json.RootElement.GetProperty("violations").GetInt32());
    }
}
