using System.CommandLine;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Agent.DevCluster;
using WalrusGossip.Agent.Recovery;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// The <c>walrus-agent</c> command line, parsed by System.CommandLine: the agent itself (flags from
/// <see cref="AgentConfiguration.SwitchMappings"/> and <c>--Section:Key=value</c> overrides), <c>dev-cluster</c> and
/// <c>recover</c>; <c>--help</c> and <c>--version</c> on each.
/// </summary>
/// <remarks>
/// System.CommandLine validates the shape of the command line and prints help; the values themselves are still bound
/// and checked by <see cref="AgentConfiguration.Load"/>, so a bad value is reported by its configuration key whichever
/// way it was given (file, <c>WALRUS_</c> variable or flag). Exit codes: 0 clean stop, 1 node failure, 2 usage or
/// configuration error.
/// </remarks>
public static class AgentCommandLine
{
    /// <summary>Help text per flag of <see cref="AgentConfiguration.SwitchMappings"/>.</summary>
    private static readonly Dictionary<string, string> FlagHelp = new(StringComparer.Ordinal)
    {
        ["--node-id"] = "This node's id, 1..2^63 (Node:Id).",
        ["--data-dir"] = "Data directory: log segments, checkpoints, hard state, logs (Node:DataDir).",
        ["--client-listen"] = "HOST:PORT for SDK and walrusctl connections (Network:ClientListen).",
        ["--peer-listen"] = "HOST:PORT for Raft traffic between agents (Network:PeerListen).",
        ["--gossip-listen"] = "HOST:PORT for SWIM gossip, UDP and TCP push-pull (Network:GossipListen).",
        ["--http-listen"] = "HOST:PORT for /health, /ready, /metrics, /v1/status and the web view (Network:HttpListen).",
        ["--advertise-host"] = "Host name or address other agents and clients use to reach this one (Network:AdvertiseHost).",
        ["--join"] = "Comma-separated gossip addresses of agents to join (Cluster:JoinList).",
        ["--bootstrap-expect"] = "Voters to wait for before the first election of a new cluster (Cluster:BootstrapExpect).",
        ["--transport"] = "auto, tcp or quic (Transport:Mode).",
        ["--ca"] = "PEM file of the cluster CA (Transport:CaFile).",
        ["--cert"] = "PEM node certificate naming walrus://node/ID (Transport:CertFile).",
        ["--key"] = "PEM private key of --cert (Transport:KeyFile).",
        ["--fsync"] = "always, none or an interval such as 5ms (Storage:Fsync).",
        ["--io-engine"] = "auto, psync or uring (Storage:IoEngine).",
        ["--config"] = "JSON configuration file; WALRUS_Section__Key variables and flags override it.",
    };

    /// <summary>Parses <paramref name="args"/> and runs the chosen command.</summary>
    /// <param name="args">The process arguments.</param>
    /// <returns>The process exit code (0, 1 or 2; see the remarks of <see cref="AgentCommandLine"/>).</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var root = new RootCommand("walrus-agent: one agent of a WalrusGossip cluster (SWIM membership, Raft-replicated write-ahead log). " +
            "Any configuration key is also accepted as --Section:Key=value.");
        AddAgentFlags(root);
        root.TreatUnmatchedTokensAsErrors = false;

        var devCluster = new Command("dev-cluster", "Start a local cluster on 127.0.0.1 with generated certificates and a walrusctl context; " +
            "arguments after -- go to every agent (for example -- --Storage:Retention:MaxBytes=268435456).");
        devCluster.Options.Add(new Option<int>("--nodes") { Description = "Agents to start, 1..9 (default 3)." });
        devCluster.Options.Add(new Option<string>("--data-root") { Description = "Directory for the agents' data, certificates and context (default .walrus-dev)." });
        devCluster.TreatUnmatchedTokensAsErrors = false;
        root.Subcommands.Add(devCluster);

        var recover = new Command("recover", "Lost-quorum recovery of a stopped agent: rewrite its data directory as a one-voter cluster (docs/operations.md). " +
            "Takes the agent's own flags or --config.");
        recover.Options.Add(new Option<bool>("--force-new-cluster") { Description = "Required: confirms that the other members are lost." });
        AddAgentFlags(recover);
        recover.TreatUnmatchedTokensAsErrors = false;
        root.Subcommands.Add(recover);

        // The values are bound by the configuration layer from the raw arguments, as before.
        root.SetAction((_, _) => AgentHost.RunAsync(args));
        devCluster.SetAction((_, _) => DevClusterCommand.RunAsync(args[1..]));
        recover.SetAction((_, _) => RecoverCommand.RunAsync(args[1..]));

        var parsed = root.Parse(args);
        var problems = new List<string>(parsed.Errors.Select(e => e.Message));
        if (parsed.CommandResult.Command != devCluster)
        {
            var afterOverride = false;
            foreach (var token in parsed.UnmatchedTokens)
            {
                var isValue = afterOverride && !token.StartsWith("--", StringComparison.Ordinal);
                afterOverride = IsConfigurationOverride(token) && !token.Contains('=', StringComparison.Ordinal);
                if (!isValue && !IsConfigurationOverride(token))
                {
                    problems.Add($"unknown option '{token}'; known options: {string.Join(", ", AgentConfiguration.SwitchMappings.Keys)} or --Section:Key=value (walrus-agent --help)");
                }
            }
        }

        var prefix = parsed.CommandResult.Command == root ? "walrus-agent: " : $"walrus-agent {parsed.CommandResult.Command.Name}: ";
        if (problems.Count > 0 && parsed.Action is not System.CommandLine.Help.HelpAction)
        {
            await Console.Error.WriteLineAsync(prefix + new AgentConfigurationException(problems).Message).ConfigureAwait(false);
            return 2;
        }

        // The generic host handles SIGTERM/SIGINT itself (a clean stop hands leadership over): no termination handler here.
        return await parsed.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }).ConfigureAwait(false);
    }

    private static void AddAgentFlags(Command command)
    {
        foreach (var flag in AgentConfiguration.SwitchMappings.Keys)
        {
            // Repeatable, the last one wins, as with configuration keys (a wrapper script's defaults can be overridden).
            command.Options.Add(new Option<string[]>(flag)
            {
                Description = FlagHelp.GetValueOrDefault(flag, AgentConfiguration.SwitchMappings[flag]),
                HelpName = "value",
                Arity = ArgumentArity.OneOrMore,
                AllowMultipleArgumentsPerToken = false,
            });
        }
    }

    /// <summary><c>--Section:Key=value</c> or <c>--Section:Key</c> (its value is the next token): a configuration key given on the command line.</summary>
    private static bool IsConfigurationOverride(string token) =>
        token.StartsWith("--", StringComparison.Ordinal) && token.Contains(':', StringComparison.Ordinal);

}
