using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using WalrusGossip.LoadTest;

namespace WalrusGossip.Client.Tests;

/// <summary>
/// walrus-loadtest's bad-input paths (issue 7): every refused input exits with the usage code (2) and a message
/// naming what was wrong, before any cluster is started or contacted; an unreachable cluster exits with 1, quickly.
/// </summary>
public sealed class LoadTestCommandTests
{
    [Theory]
    [InlineData("append --endpoints 127.0.0.1:9 --clients 0", "--clients must be at least 1")]
    [InlineData("append --endpoints 127.0.0.1:9 --clients -5", "--clients must be at least 1")]
    [InlineData("append --endpoints 127.0.0.1:9 --payload 0", "--payload must be at least 24 bytes")]
    [InlineData("append --endpoints 127.0.0.1:9 --payload -1280", "--payload must be at least 24 bytes")]
    [InlineData("append --endpoints 127.0.0.1:9 --rate 0", "--rate must be more than zero")]
    [InlineData("append --endpoints 127.0.0.1:9 --rate -100", "--rate must be more than zero")]
    [InlineData("append --endpoints 127.0.0.1:9 --duration 0s", "--duration must be more than zero")]
    [InlineData("append --endpoints 127.0.0.1:9 --duration -5s", "--duration must be more than zero")]
    [InlineData("append --endpoints 127.0.0.1:9 --duration 5x", "--duration: '5x' is not a duration")]
    [InlineData("append --endpoints 127.0.0.1:9 --warmup -1s", "--warmup must be zero or more")]
    [InlineData("append --endpoints 127.0.0.1:9 --lanes 0", "--lanes must be 1..1024")]
    [InlineData("append --endpoints 127.0.0.1:9 --sdk-clients 0", "--sdk-clients must be 1..min(1000, --clients)")]
    [InlineData("append --endpoints 127.0.0.1:9 --clients 4 --sdk-clients 8", "--sdk-clients must be 1..min(1000, --clients)")]
    [InlineData("mixed --read-ratio 1.5 --endpoints 127.0.0.1:9", "--read-ratio must be between 0 and 1")]
    [InlineData("tail --subscribers 0 --endpoints 127.0.0.1:9", "--subscribers must be at least 1")]
    [InlineData("failover --endpoints 127.0.0.1:9 --duration 75s", "runs on a local cluster only")]
    [InlineData("failover --local 3 --kills 0 --duration 75s", "--kills must be 1..100")]
    [InlineData("failover --local 3 --kills 10 --duration 30s", "is too short for --kills 10")]
    [InlineData("append --local 0", "--local must be 1..9 agents")]
    [InlineData("append --local 3 --endpoints 127.0.0.1:9", "do not combine it with --endpoints")]
    [InlineData("nonsense --endpoints 127.0.0.1:9", "Unrecognized command or argument 'nonsense'")]
    [InlineData("append --no-such-option 1", "Unrecognized command or argument '--no-such-option'")]
    public async Task Bad_options_and_scenarios_exit_with_the_usage_code_and_name_what_was_wrong(string args, string expected)
    {
        // Validation refuses each run before any endpoint is contacted or any local cluster is started.
        var (code, error) = await Run(args);
        Assert.Equal(LoadTestCommand.Usage, code);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_cluster_fails_the_run_with_a_clear_error_instead_of_hanging()
    {
        // A port nobody listens on: bind an ephemeral port, then release it (connections are refused).
        int port;
        using (var probe = new TcpListener(IPAddress.Loopback, 0))
        {
            probe.Start();
            port = ((IPEndPoint)probe.LocalEndpoint).Port;
            probe.Stop();
        }

        var watch = Stopwatch.StartNew();
        var (code, error) = await Run($"append --endpoints 127.0.0.1:{port} --duration 30s --warmup 0s");
        Assert.Equal(LoadTestCommand.Failed, code);
        Assert.Contains($"127.0.0.1:{port}", error, StringComparison.Ordinal);

        // Bounded by the status probe's 15 s, far below the 30 s asked for: the run never started its load.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"took {watch.Elapsed}");
    }

    private static async Task<(int Code, string Error)> Run(string commandLine)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        var code = await LoadTestCommand.RunAsync(commandLine.Split(' ', StringSplitOptions.RemoveEmptyEntries), output, error, CancellationToken.None);
        return (code, error.ToString());
    }
}
