using WalrusGossip.Agent.DevCluster;
using WalrusGossip.Agent.Hosting;

// walrus-agent [flags]            run one agent (see README: Running agents)
// walrus-agent dev-cluster [...]  start a local 3-agent cluster on loopback
return args.Length > 0 && args[0] == "dev-cluster"
    ? await DevClusterCommand.RunAsync(args[1..]).ConfigureAwait(false)
    : await AgentHost.RunAsync(args).ConfigureAwait(false);
