namespace WalrusGossip.Simulation.Core;

/// <summary>Which fault families a run injects.</summary>
[Flags]
public enum FaultKinds
{
    /// <summary>No faults: a healthy cluster under load.</summary>
    None = 0,

    /// <summary>Delay spikes (reordering), drops, duplicates, partitions (random split, isolate the leader, one-way links), heal.</summary>
    Network = 1,

    /// <summary>Crashes (also inside a device call and whole-cluster power loss), restarts, pauses.</summary>
    Process = 2,

    /// <summary>Lost and torn unsynced writes on crash (with <see cref="Process"/>) and bit flips in sealed segments.</summary>
    Disk = 4,

    /// <summary>Everything.</summary>
    All = Network | Process | Disk,
}

/// <summary>Options of one simulated run; the seed plus these fully determine the run.</summary>
public sealed record SimOptions
{
    /// <summary>Default simulated duration when neither steps nor seconds are given.</summary>
    public const double DefaultSimSeconds = 120;

    /// <summary>Root seed: every random choice in the run derives from it.</summary>
    public long Seed { get; init; } = 1;

    /// <summary>Cluster size: 3 or 5 agents.</summary>
    public int Nodes { get; init; } = 5;

    /// <summary>
    /// Agents that bootstrap the cluster through gossip (<c>Cluster:BootstrapExpect</c>): nodes 1 to this; the others
    /// join as learners and are promoted by the leader once caught up. Default 3 (at most <see cref="Nodes"/>).
    /// </summary>
    public int Founders { get; init; } = 3;

    /// <summary>
    /// Multiplies the production tick (10 ms): every Raft timeout, which is counted in ticks, scales with it and every
    /// ratio stays. Default 1 (the production timings).
    /// </summary>
    public int TickScale { get; init; } = 1;

    /// <summary>Stop after this many events (null: use <see cref="SimSeconds"/>).</summary>
    public long? Steps { get; init; }

    /// <summary>Stop after this much virtual time, in seconds (used when <see cref="Steps"/> is null).</summary>
    public double SimSeconds { get; init; } = DefaultSimSeconds;

    /// <summary>Fault families to inject.</summary>
    public FaultKinds Faults { get; init; } = FaultKinds.All;

    /// <summary>Deliberate bugs passed to every node (see <see cref="KnownBugs"/>).</summary>
    public IReadOnlySet<string> InjectedBugs { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Bug names <c>--inject-bug</c> accepts.</summary>
    public static IReadOnlyList<string> KnownBugs { get; } = ["commit-previous-term", "ack-before-fsync", "double-vote", "skip-truncate-on-conflict", "truncate-past-checkpoint", "two-config-changes", "blind-consistency-hash", "checkpoint-drops-security", "uncertified-learner", "duplicate-takes-stream-sequence", "floor-skips-unacked"];

    /// <summary>The <c>--faults</c> spelling of <paramref name="faults"/>.</summary>
    /// <param name="faults">Fault families.</param>
    /// <returns>none, network, process, disk or all (or a '+'-joined list).</returns>
    public static string FaultsName(FaultKinds faults) => faults switch
    {
        FaultKinds.None => "none",
        FaultKinds.All => "all",
        _ => string.Join('+', new[] { FaultKinds.Network, FaultKinds.Process, FaultKinds.Disk }.Where(f => faults.HasFlag(f)).Select(f => f.ToString().ToLowerInvariant())),
    };

    /// <summary>Parses a <c>--faults</c> value.</summary>
    /// <param name="text">none, network, process, disk, all, or several joined with '+' or ','.</param>
    /// <param name="faults">The parsed families.</param>
    /// <returns>False on an unknown name.</returns>
    public static bool TryParseFaults(string text, out FaultKinds faults)
    {
        faults = FaultKinds.None;
        foreach (var part in text.Split(['+', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            switch (part.ToLowerInvariant())
            {
                case "none":
                    break;
                case "network":
                    faults |= FaultKinds.Network;
                    break;
                case "process":
                    faults |= FaultKinds.Process;
                    break;
                case "disk":
                    faults |= FaultKinds.Disk;
                    break;
                case "all":
                    faults |= FaultKinds.All;
                    break;
                default:
                    return false;
            }
        }

        return text.Trim().Length > 0;
    }

    /// <summary>The exact <c>walrus-sim run</c> command line that replays this run.</summary>
    /// <returns>The command.</returns>
    public string ReplayCommand()
    {
        var limit = Steps is { } steps
            ? $"--steps {steps}"
            : $"--sim-seconds {SimSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        var bugs = string.Concat(InjectedBugs.Order(StringComparer.Ordinal).Select(b => $" --inject-bug {b}"));
        return $"walrus-sim run --seed {Seed} --nodes {Nodes} {limit} --faults {FaultsName(Faults)}{bugs}";
    }
}
