using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Tests;

/// <summary>Each deliberately injected bug is caught: the checkers can fail. Seeds found with <c>walrus-sim sweep</c>.</summary>
public sealed class BugDetectionTests
{
    [Theory]
    // The commit of an older term's entry by counting replicas (§5.4.2). Its old seed 10 "found" it only through a real lost
    // acknowledged append the node showed without the bug too (a retry joining another append's pending slot, fixed in
    // 3caf4e5; CleanRunTests keeps that seed clean); seed 11 of a 120 s sweep catches the rule itself.
    [InlineData("commit-previous-term", 11, 3, 120, "leader-commit-rule")]
    [InlineData("ack-before-fsync", 1, 5, 20, "recovery")]
    [InlineData("double-vote", 1, 5, 5, "election-safety")]
    [InlineData("skip-truncate-on-conflict", 2, 5, 35, "log-matching")]
    [InlineData("truncate-past-checkpoint", 21, 5, 15, "node-invariant")]
    [InlineData("two-config-changes", 5, 5, 62, "one-config-change")]
    [InlineData("blind-consistency-hash", 1, 5, 15, "consistency-detect")]
    [InlineData("checkpoint-drops-security", 3, 5, 35, "security-policy")]
    [InlineData("uncertified-learner", 4, 5, 65, "certified-members")]
    [InlineData("duplicate-takes-stream-sequence", 12, 5, 25, "stream-sequence")]
    [InlineData("floor-skips-unacked", 1, 5, 15, "consumer-at-least-once")]
    public void An_injected_bug_is_reported_as_a_violation(string bug, long seed, int nodes, double simSeconds, string property)
    {
        var options = new SimOptions
        {
            Seed = seed,
            Nodes = nodes,
            SimSeconds = simSeconds,
            Faults = FaultKinds.All,
            InjectedBugs = new HashSet<string>(StringComparer.Ordinal) { bug },
        };

        // The same run without the bug must hold every check, or the violation may be a real bug the injected one only
        // happens to share a seed with (seed 10 of commit-previous-term was: a retried append joined another's pending slot).
        var clean = SimulationRunner.Run(options with { InjectedBugs = new HashSet<string>(StringComparer.Ordinal) });
        Assert.True(clean.Violation is null, $"without the bug: {clean.Violation?.Property}: {clean.Violation?.Detail}");

        var result = SimulationRunner.Run(options);

        Assert.NotNull(result.Violation);
        Assert.Equal(property, result.Violation.Property);
    }

    [Fact]
    public void The_same_seed_without_the_bug_passes()
    {
        var result = SimulationRunner.Run(new SimOptions { Seed = 2, Nodes = 5, SimSeconds = 65, Faults = FaultKinds.All });

        Assert.Null(result.Violation);
        Assert.Equal((1, 1), (result.Stats.SilentCorruptions, result.Stats.SilentCorruptionsFound)); // the epilogue's rewritten record was found
        Assert.True(result.Stats.ConsistencyRounds >= 2, $"{result.Stats.ConsistencyRounds} consistency rounds");
    }
}
