using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Cli;

/// <summary>
/// The <c>walrus-sim</c> command line: <c>run</c> one seed, <c>sweep</c> a seed range. Exit codes: 0 every check
/// held, 1 a property was violated, 2 bad usage.
/// </summary>
internal static class SimCli
{
    public const int Passed = 0;
    public const int ViolationFound = 1;
    public const int Usage = 2;

    /// <summary>Parses <paramref name="args"/> and runs the command.</summary>
    /// <param name="args">Command-line arguments.</param>
    /// <param name="stdout">Output (defaults to the console).</param>
    /// <param name="stderr">Errors (defaults to the console).</param>
    /// <returns>The exit code.</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter? stdout = null, TextWriter? stderr = null)
    {
        stdout ??= Console.Out;
        stderr ??= Console.Error;
        var root = Build(stdout);
        var result = root.Parse(args);
        if (result.Errors.Count > 0)
        {
            foreach (var error in result.Errors)
            {
                await stderr.WriteLineAsync("walrus-sim: " + error.Message).ConfigureAwait(false);
            }

            await stderr.WriteLineAsync("run 'walrus-sim --help' for usage").ConfigureAwait(false);
            return Usage;
        }

        return await result.InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr }).ConfigureAwait(false);
    }

    private static RootCommand Build(TextWriter stdout)
    {
        var seed = new Option<long>("--seed") { Description = "Seed of the run (any 64-bit integer).", Required = true };
        var seeds = new Option<string>("--seeds") { Description = "Seed range A-B (inclusive, A <= B), or one seed.", Required = true };
        seeds.Validators.Add(r =>
        {
            if (!TryParseRange(r.GetValueOrDefault<string>() ?? string.Empty, out _, out _, out var why))
            {
                r.AddError(why);
            }
        });

        var common = CommonOptions();
        var trace = new Option<string?>("--trace") { Description = "Write the readable event log to this file." };
        var traceHash = new Option<bool>("--trace-hash") { Description = "Print the SHA-256 of the full event trace." };
        var json = new Option<bool>("--json") { Description = "Print the summary as JSON." };

        var run = new Command("run", "Run one seed; exit 0 when every check holds, 1 on a violation.") { seed, trace, traceHash };
        common.AddTo(run);
        run.SetAction(async (parse, ct) =>
        {
            var options = common.Read(parse) with { Seed = parse.GetValue(seed) };
            return await RunCommand.ExecuteAsync(options, parse.GetValue(trace), parse.GetValue(traceHash), stdout).ConfigureAwait(false);
        });

        var sweep = new Command("sweep", "Run a range of seeds in parallel and print a summary; exit 1 if any seed fails.") { seeds, json };
        common.AddTo(sweep);
        sweep.SetAction(async (parse, ct) =>
        {
            TryParseRange(parse.GetValue(seeds)!, out var from, out var to, out _);
            return await SweepCommand.ExecuteAsync(common.Read(parse), from, to, parse.GetValue(json), stdout, ct).ConfigureAwait(false);
        });

        return new RootCommand("walrus-sim: deterministic simulator running real WalrusGossip nodes under network, process and disk faults.") { run, sweep };
    }

    /// <summary>Parses "A-B" or "A".</summary>
    /// <param name="text">Range text.</param>
    /// <param name="from">First seed.</param>
    /// <param name="to">Last seed (inclusive).</param>
    /// <param name="why">Error when false.</param>
    /// <returns>True for a non-empty, non-reversed range.</returns>
    internal static bool TryParseRange(string text, out long from, out long to, out string why)
    {
        from = to = 0;
        why = string.Empty;
        var dash = text.IndexOf('-', 1 < text.Length ? 1 : 0);
        var first = dash > 0 ? text[..dash] : text;
        var last = dash > 0 ? text[(dash + 1)..] : text;
        if (!long.TryParse(first, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out from) ||
            !long.TryParse(last, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out to))
        {
            why = $"--seeds must look like A-B (e.g. 1-200), got '{text}'";
            return false;
        }

        if (to < from)
        {
            why = $"--seeds range {text} is reversed or empty: the first seed must not exceed the last";
            return false;
        }

        return true;
    }

    private static CommonOptionSet CommonOptions()
    {
        var nodes = new Option<int>("--nodes") { Description = "Cluster size: 3 or 5.", DefaultValueFactory = _ => 5 };
        nodes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is not (3 or 5))
            {
                r.AddError($"--nodes must be 3 or 5, got {r.GetValueOrDefault<int>()}");
            }
        });

        var steps = new Option<long?>("--steps") { Description = "Stop after this many events." };
        steps.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<long?>() is <= 0)
            {
                r.AddError("--steps must be positive");
            }
        });

        var simSeconds = new Option<double?>("--sim-seconds") { Description = $"Stop after this much simulated time (default {SimOptions.DefaultSimSeconds} s)." };
        simSeconds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double?>() is { } s && (s <= 0 || double.IsNaN(s) || s > 86_400))
            {
                r.AddError("--sim-seconds must be in (0, 86400]");
            }
        });

        var faults = new Option<string>("--faults") { Description = "none | network | process | disk | all (or several joined with '+').", DefaultValueFactory = _ => "all" };
        faults.Validators.Add(r =>
        {
            if (!SimOptions.TryParseFaults(r.GetValueOrDefault<string>() ?? string.Empty, out _))
            {
                r.AddError($"--faults must be none, network, process, disk or all, got '{r.GetValueOrDefault<string>()}'");
            }
        });

        var bugs = new Option<string[]>("--inject-bug") { Description = "Inject a deliberate bug (repeatable): " + string.Join(", ", SimOptions.KnownBugs) + "." };
        bugs.Validators.Add(r =>
        {
            foreach (var bug in r.GetValueOrDefault<string[]>() ?? [])
            {
                if (!SimOptions.KnownBugs.Contains(bug))
                {
                    r.AddError($"unknown bug '{bug}'; known: {string.Join(", ", SimOptions.KnownBugs)}");
                }
            }
        });

        return new CommonOptionSet(nodes, steps, simSeconds, faults, bugs);
    }

    private sealed record CommonOptionSet(Option<int> Nodes, Option<long?> Steps, Option<double?> SimSeconds, Option<string> Faults, Option<string[]> Bugs)
    {
        public void AddTo(Command command)
        {
            command.Options.Add(Nodes);
            command.Options.Add(Steps);
            command.Options.Add(SimSeconds);
            command.Options.Add(Faults);
            command.Options.Add(Bugs);
            command.Validators.Add(r =>
            {
                if (r.GetResult(Steps) is { Implicit: false } && r.GetResult(SimSeconds) is { Implicit: false })
                {
                    r.AddError("give either --steps or --sim-seconds, not both");
                }
            });
        }

        public SimOptions Read(ParseResult parse)
        {
            SimOptions.TryParseFaults(parse.GetValue(Faults)!, out var faults);
            return new SimOptions
            {
                Nodes = parse.GetValue(Nodes),
                Steps = parse.GetValue(Steps),
                SimSeconds = parse.GetValue(SimSeconds) ?? SimOptions.DefaultSimSeconds,
                Faults = faults,
                InjectedBugs = new HashSet<string>(parse.GetValue(Bugs) ?? [], StringComparer.Ordinal),
            };
        }
    }
}
