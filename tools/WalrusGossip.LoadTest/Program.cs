using System.CommandLine;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.LoadTest;

// walrus-loadtest: load generator for a WalrusGossip cluster. Exit codes: 0 done, 1 the run failed (cluster
// unreachable, no quorum, acknowledged appends lost, a failover round that failed), 2 usage error.
return await LoadTestCommand.RunAsync(args, Console.Out, Console.Error, CancellationToken.None).ConfigureAwait(false);

namespace WalrusGossip.LoadTest
{
    /// <summary>Command line of walrus-loadtest (System.CommandLine 2.0).</summary>
    internal static class LoadTestCommand
    {
        public const int Ok = 0;
        public const int Failed = 1;
        public const int Usage = 2;

        public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken)
        {
            var root = CreateRoot(output, error);
            var result = root.Parse(args);
            if (result.Errors.Count > 0)
            {
                foreach (var parseError in result.Errors)
                {
                    await error.WriteLineAsync("walrus-loadtest: " + parseError.Message).ConfigureAwait(false);
                }

                await error.WriteLineAsync("run 'walrus-loadtest --help' for usage").ConfigureAwait(false);
                return Usage;
            }

            return await result.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken).ConfigureAwait(false);
        }

        public static RootCommand CreateRoot(TextWriter output, TextWriter error)
        {
            var root = new RootCommand("walrus-loadtest: load tests for a WalrusGossip cluster (closed/open loop appends, mixed, tail, failover)");
            root.Subcommands.Add(Create("append", "Appends: closed loop with --clients concurrent clients, or open loop at --rate appends/s", output, error));
            root.Subcommands.Add(Create("mixed", "Appends and linearizable reads of acknowledged indexes (--read-ratio)", output, error));
            root.Subcommands.Add(Create("tail", "Appends while --subscribers tails follow the log; latency figures are tail lag", output, error));
            root.Subcommands.Add(Create("failover", "Appends while the leader is SIGKILLed --kills times (needs --local; each killed agent is restarted with the same command line), time from each kill to the first append of the new leader, read-back of every acknowledged append", output, error));
            return root;
        }

        private static Command Create(string scenario, string description, TextWriter output, TextWriter error)
        {
            var endpoints = new Option<string[]>("--endpoints") { Description = "Agent client endpoints host:port (comma separated or repeated)", AllowMultipleArgumentsPerToken = true };
            var context = new Option<string?>("--context") { Description = "A walrusctl.json context file (default: .walrus-dev/walrusctl.json when it exists)" };
            var local = new Option<int>("--local") { Description = "Start a local cluster of N agents (this repository's walrus-agent) under a temporary directory, and stop it afterwards" };
            var clients = new Option<int>("--clients") { Description = "Concurrent clients (closed loop), or the in-flight bound (open loop)", DefaultValueFactory = _ => 64 };
            var payload = new Option<int>("--payload") { Description = "Payload bytes per append (at least 24)", DefaultValueFactory = _ => 1280 };
            var duration = new Option<string>("--duration") { Description = "Measured time, like 30s or 2m", DefaultValueFactory = _ => "30s" };
            var warmup = new Option<string>("--warmup") { Description = "Unmeasured time before it, like 5s (0 for none)", DefaultValueFactory = _ => "5s" };
            var rate = new Option<double?>("--rate") { Description = "Open loop: requests per second, latency measured from each request's intended send time" };
            var json = new Option<string?>("--json") { Description = "Write the result as JSON to FILE ('-' for stdout)" };
            var readRatio = new Option<double>("--read-ratio") { Description = "mixed: fraction of operations that are linearizable reads", DefaultValueFactory = _ => 0.2 };
            var subscribers = new Option<int>("--subscribers") { Description = "tail: tail subscriptions following the log", DefaultValueFactory = _ => 4 };
            var sdkClients = new Option<int>("--sdk-clients") { Description = "WalrusClient instances the clients share, round-robin (one connection per agent each); 1 is the recommended one-per-application use", DefaultValueFactory = _ => 1 };
            var lanes = new Option<int>("--lanes") { Description = "Append requests in flight per WalrusClient (its MaxConcurrentAppends); appends waiting beyond them are coalesced into batch requests", DefaultValueFactory = _ => new WalrusClientOptions().MaxConcurrentAppends };
            var kills = new Option<int>("--kills")
            {
                Description = string.Create(CultureInfo.InvariantCulture,
                    $"failover: leader kills, 1..{LoadSettings.MaxKills}. The first comes {LoadSettings.FirstKillAfter.TotalSeconds:0}s into the measured window, the next at least {LoadSettings.KillInterval.TotalSeconds:0}s later once the restarted agent is back and caught up. --duration is not extended: it must be at least {LoadSettings.FirstKillAfter.TotalSeconds:0}s + {LoadSettings.KillBudget.TotalSeconds:0}s per kill ({LoadSettings.MinimumFailoverDuration(10).TotalSeconds:0}s for 10), else the run is refused (exit 2)"),
                DefaultValueFactory = _ => 1,
            };
            var command = new Command(scenario, description) { endpoints, context, local, clients, sdkClients, lanes, payload, duration, warmup, rate, json };
            if (scenario == "mixed")
            {
                command.Options.Add(readRatio);
            }

            if (scenario == "tail")
            {
                command.Options.Add(subscribers);
            }

            if (scenario == "failover")
            {
                command.Options.Add(kills);
            }

            command.SetAction(async (parse, ct) =>
            {
                LocalCluster? cluster = null;
                try
                {
                    var settings = new LoadSettings(
                        scenario,
                        parse.GetValue(clients),
                        parse.GetValue(payload),
                        DurationParser.Parse(parse.GetValue(duration)!, "--duration"),
                        DurationParser.Parse(parse.GetValue(warmup)!, "--warmup", allowZero: true),
                        parse.GetValue(rate),
                        scenario == "mixed" ? parse.GetValue(readRatio) : 0,
                        scenario == "tail" ? parse.GetValue(subscribers) : 1,
                        parse.GetValue(json),
                        scenario == "failover" ? parse.GetValue(kills) : 1,
                        parse.GetValue(sdkClients),
                        parse.GetValue(lanes));
                    settings.Validate();
                    var localCount = parse.GetValue(local);
                    var eps = (parse.GetValue(endpoints) ?? []).SelectMany(e => e.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray();
                    var contextPath = parse.GetValue(context);
                    if (parse.GetResult(local) is not null && localCount < 1)
                    {
                        throw new ArgumentException($"--local must be 1..9 agents, got {localCount}");
                    }

                    if (localCount > 0 && (eps.Length > 0 || contextPath is not null))
                    {
                        throw new ArgumentException("--local starts its own cluster; do not combine it with --endpoints or --context");
                    }

                    if (scenario == "failover" && localCount < 3)
                    {
                        throw new ArgumentException("failover kills agent processes, so it runs on a local cluster only: pass --local 3 (or more)");
                    }

                    WalrusContext? ctx = null;
                    if (localCount > 0)
                    {
                        cluster = await LocalCluster.StartAsync(localCount, error, ct).ConfigureAwait(false);
                        ctx = WalrusContext.Load(cluster.ContextPath);
                    }
                    else if (contextPath is not null)
                    {
                        ctx = WalrusContext.Load(contextPath);
                    }
                    else if (eps.Length == 0)
                    {
                        ctx = WalrusContext.TryLoadDefault()
                            ?? throw new ArgumentException("no cluster: pass --endpoints, --context or --local 3 (no .walrus-dev/walrusctl.json here)");
                    }

                    void Configure(WalrusClientOptions o)
                    {
                        if (ctx is not null)
                        {
                            ctx.ApplyTo(o);
                        }
                        else
                        {
                            o.Endpoints = eps;
                        }
                    }

                    var report = await new LoadRunner(settings, Configure, error, cluster).RunAsync(ct).ConfigureAwait(false);
                    report.Print(settings.JsonFile == "-" ? error : output);
                    if (settings.JsonFile == "-")
                    {
                        await output.WriteLineAsync(report.ToJson()).ConfigureAwait(false);
                    }
                    else if (settings.JsonFile is { } file)
                    {
                        await File.WriteAllTextAsync(file, report.ToJson() + Environment.NewLine, ct).ConfigureAwait(false);
                    }

                    return LoadRunner.FailingErrors.Any(report.Errors.ContainsKey) ? Failed : Ok;
                }
                catch (Exception e) when (e is ArgumentException or FormatException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
                {
                    await error.WriteLineAsync("walrus-loadtest: " + e.Message).ConfigureAwait(false);
                    return Usage;
                }
                catch (Exception e) when (e is WalrusException or TimeoutException or IOException)
                {
                    await error.WriteLineAsync("walrus-loadtest: " + e.Message).ConfigureAwait(false);
                    return Failed;
                }
                finally
                {
                    if (cluster is not null)
                    {
                        await error.WriteLineAsync("stopping the local cluster ...").ConfigureAwait(false);
                        await cluster.DisposeAsync().ConfigureAwait(false);
                    }
                }
            });
            return command;
        }
    }
}
