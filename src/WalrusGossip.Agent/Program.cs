using WalrusGossip.Agent.DevCluster;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Agent.Recovery;

// walrus-agent [flags]                                   run one agent (see README: Running agents)
// walrus-agent dev-cluster [...]                         start a local 3-agent cluster on loopback
// walrus-agent recover --force-new-cluster [flags]       lost-quorum recovery of a stopped agent (docs/operations.md)
return args.Length > 0 && args[0] == "dev-cluster" ? await DevClusterCommand.RunAsync(args[1..]).ConfigureAwait(false)
    : args.Length > 0 && args[0] == "recover" ? await RecoverCommand.RunAsync(args[1..]).ConfigureAwait(false)
    : await AgentHost.RunAsync(args).ConfigureAwait(false);
