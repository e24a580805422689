using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Cli;

/// <summary><c>walrus-sim sweep</c>: many seeds across the machine's cores (each run still single-threaded and deterministic).</summary>
internal static class SweepCommand
{
    public static async Task<int> ExecuteAsync(SimOptions template, long from, long to, bool json, TextWriter stdout, CancellationToken ct)
    {
        var count = to - from + 1;
        var results = new ConcurrentBag<RunResult>();
        var started = Stopwatch.GetTimestamp();
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount, CancellationToken = ct };
        var showProgress = !json && !Console.IsOutputRedirected && ReferenceEquals(stdout, Console.Out) && count > 1;
        if (showProgress)
        {
            await AnsiConsole.Progress().AutoClear(true).StartAsync(async ctx =>
            {
                var task = ctx.AddTask($"seeds {from}-{to}", maxValue: count);
                await Parallel.ForAsync(from, to + 1, parallel, (seed, _) =>
                {
                    results.Add(SimulationRunner.Run(template with { Seed = seed }));
                    task.Increment(1);
                    return ValueTask.CompletedTask;
                }).ConfigureAwait(false);
            }).ConfigureAwait(false);
        }
        else
        {
            await Parallel.ForAsync(from, to + 1, parallel, (seed, _) =>
            {
                results.Add(SimulationRunner.Run(template with { Seed = seed }));
                return ValueTask.CompletedTask;
            }).ConfigureAwait(false);
        }

        var wall = Stopwatch.GetElapsedTime(started);
        var ordered = results.OrderBy(r => r.Options.Seed).ToList();
        var failed = ordered.Where(r => !r.Passed).ToList();
        var simSeconds = ordered.Sum(r => r.Stats.SimTime.TotalSeconds);
        var cpuSeconds = ordered.Sum(r => r.WallTime.TotalSeconds);
        var summary = new
        {
            seeds = $"{from}-{to}",
            runs = ordered.Count,
            nodes = template.Nodes,
            faults = SimOptions.FaultsName(template.Faults),
            injectedBugs = template.InjectedBugs.Order(StringComparer.Ordinal).ToArray(),
            violations = failed.Count,
            elections = ordered.Sum(r => (long)r.Stats.Elections),
            partitions = ordered.Sum(r => (long)r.Stats.Partitions),
            crashes = ordered.Sum(r => (long)r.Stats.Crashes),
            appendsAcknowledged = ordered.Sum(r => r.Stats.AppendsAcknowledged),
            bitFlipsDetected = ordered.Sum(r => (long)r.Stats.BitFlipsDetected),
            checkpoints = ordered.Sum(r => r.Stats.Checkpoints),
            snapshotsInstalled = ordered.Sum(r => r.Stats.SnapshotsInstalled),
            snapshotChunksSent = ordered.Sum(r => r.Stats.SnapshotChunksSent),
            snapshotTransfersResumed = ordered.Sum(r => r.Stats.SnapshotTransfersResumed),
            worstFailoverMs = ordered.Count == 0 ? 0 : Math.Round(ordered.Max(r => r.Stats.WorstFailoverMs)),
            simulatedSeconds = Math.Round(simSeconds, 1),
            wallSeconds = Math.Round(wall.TotalSeconds, 2),
            speedPerCore = cpuSeconds > 0 ? Math.Round(simSeconds / cpuSeconds, 1) : 0,
            failures = failed.Select(r => new
            {
                seed = r.Options.Seed,
                property = r.Violation!.Property,
                step = r.Violation.Step,
                simulatedMs = Math.Round(r.Violation.SimTime.TotalMilliseconds),
                detail = r.Violation.Detail,
                replay = r.Options.ReplayCommand(),
            }).ToArray(),
        };

        if (json)
        {
            await stdout.WriteLineAsync(JsonSerializer.Serialize(summary, JsonOptions)).ConfigureAwait(false);
            return failed.Count == 0 ? SimCli.Passed : SimCli.ViolationFound;
        }

        var table = new Table().AddColumns("seeds", "violations", "elections", "partitions", "crashes", "appends acked", "worst failover (sim ms)", "simulated", "wall", "speed/core");
        table.AddRow(
            summary.seeds,
            summary.violations.ToString(CultureInfo.InvariantCulture),
            summary.elections.ToString(CultureInfo.InvariantCulture),
            summary.partitions.ToString(CultureInfo.InvariantCulture),
            summary.crashes.ToString(CultureInfo.InvariantCulture),
            summary.appendsAcknowledged.ToString(CultureInfo.InvariantCulture),
            summary.worstFailoverMs.ToString(CultureInfo.InvariantCulture),
            string.Create(CultureInfo.InvariantCulture, $"{simSeconds:0} s"),
            string.Create(CultureInfo.InvariantCulture, $"{wall.TotalSeconds:0.0} s"),
            string.Create(CultureInfo.InvariantCulture, $"{summary.speedPerCore:0}x"));
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(stdout), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        console.Profile.Width = 200;
        console.Write(table);
        foreach (var r in failed)
        {
            var v = r.Violation!;
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"seed {r.Options.Seed}: {v.Property} at step {v.Step}: {v.Detail}")).ConfigureAwait(false);
            await stdout.WriteLineAsync("  replay: " + r.Options.ReplayCommand()).ConfigureAwait(false);
        }

        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"checkpoints {summary.checkpoints}, snapshots installed {summary.snapshotsInstalled} ({summary.snapshotChunksSent} chunks sent, {summary.snapshotTransfersResumed} transfers resumed)")).ConfigureAwait(false);
        await stdout.WriteLineAsync(failed.Count == 0
            ? $"{ordered.Count} seeds, no violations"
            : $"{failed.Count} of {ordered.Count} seeds violated a property").ConfigureAwait(false);
        return failed.Count == 0 ? SimCli.Passed : SimCli.ViolationFound;
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };
}
