using WalrusGossip.Agent.Hosting;

// walrus-agent [flags]                                   run one agent (see README: Running agents)
// walrus-agent dev-cluster [...]                         start a local 3-agent cluster on loopback
// walrus-agent recover --force-new-cluster [flags]       lost-quorum recovery of a stopped agent (docs/operations.md)
// walrus-agent --help | --version
return await AgentCommandLine.RunAsync(args).ConfigureAwait(false);
