using System.CommandLine;
using WalrusGossip.Cli;

// walrusctl: operate WalrusGossip. Exit codes: 0 success, 1 the checked thing is not healthy, 2 usage or I/O error.
var root = new RootCommand("walrusctl: operate a WalrusGossip store and cluster");
root.Subcommands.Add(StoreCommands.Create());
root.Subcommands.Add(BenchCommands.Create());
return await CliRunner.RunAsync(root, args).ConfigureAwait(false);
