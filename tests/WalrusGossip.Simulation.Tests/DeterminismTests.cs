using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Tests;

public sealed class DeterminismTests
{
    private static readonly SimOptions Seven = new() { Seed = 7, Nodes = 5, SimSeconds = 40, Faults = FaultKinds.All };

    [Fact]
    public void The_same_seed_and_options_produce_the_same_trace_hash_twice()
    {
        var first = SimulationRunner.Run(Seven, hashTrace: true);
        var second = SimulationRunner.Run(Seven, hashTrace: true);

        Assert.NotNull(first.TraceHash);
        Assert.Equal(first.TraceHash, second.TraceHash);
        Assert.Equal(first.Stats.Steps, second.Stats.Steps);
        Assert.Equal(first.Stats.AppendsAcknowledged, second.Stats.AppendsAcknowledged);
    }

    [Fact]
    public void A_different_seed_produces_a_different_trace()
    {
        var seven = SimulationRunner.Run(Seven, hashTrace: true);
        var eight = SimulationRunner.Run(Seven with { Seed = 8 }, hashTrace: true);

        Assert.NotEqual(seven.TraceHash, eight.TraceHash);
    }

    [Fact]
    public void The_readable_trace_hashes_to_the_reported_hash()
    {
        using var writer = new StringWriter { NewLine = "\n" };
        var result = SimulationRunner.Run(Seven with { SimSeconds = 5 }, hashTrace: true, traceWriter: writer);
        var text = writer.ToString();

        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(text)));
        Assert.Equal(result.TraceHash, hash);
        Assert.Contains("raft n", text, StringComparison.Ordinal);
    }
}
