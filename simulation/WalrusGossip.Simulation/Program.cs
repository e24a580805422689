using WalrusGossip.Simulation.Cli;

return await SimCli.RunAsync(args).ConfigureAwait(false);
