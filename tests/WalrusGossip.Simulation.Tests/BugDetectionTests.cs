using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Tests;

/// <summary>Each deliberately injected bug is caught: the checkers can fail. Seeds found with <c>walrus-sim sweep</c>.</summary>
public sealed class BugDetectionTests
{
    [Theory]
    [InlineData("commit-previous-term", 2, 120, "leader-commit-rule")]
    [InlineData("ack-before-fsync", 1, 20, "recovery")]
    [InlineData("double-vote", 1, 5, "election-safety")]
    [InlineData("skip-truncate-on-conflict", 2, 25, "log-matching")]
    [InlineData("truncate-past-checkpoint", 6, 15, "node-invariant")]
    [InlineData("two-config-changes", 5, 62, "one-config-change")]
    public void An_injected_bug_is_reported_as_a_violation(string bug, long seed, double simSeconds, string property)
    {
        var options = new SimOptions
        {
            Seed = seed,
            Nodes = 5,
            SimSeconds = simSeconds,
            Faults = FaultKinds.All,
            InjectedBugs = new HashSet<string>(StringComparer.Ordinal) { bug },
        };

        var result = SimulationRunner.Run(options);

        Assert.NotNull(result.Violation);
        Assert.Equal(property, result.Violation.Property);
    }

    [Fact]
    public void The_same_seed_without_the_bug_passes()
    {
        var result = SimulationRunner.Run(new SimOptions { Seed = 2, Nodes = 5, SimSeconds = 65, Faults = FaultKinds.All });

        Assert.Null(result.Violation);
    }
}
