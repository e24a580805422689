using WalrusGossip.Cli;
using WalrusGossip.Cli.Cluster;

// walrusctl: operate WalrusGossip. Exit codes: 0 success, 1 the operation failed or the checked thing is not healthy,
// 2 usage or I/O error.
var root = ClusterCommands.CreateRoot(CliConsole.System);
return await CliRunner.RunAsync(root, args).ConfigureAwait(false);
