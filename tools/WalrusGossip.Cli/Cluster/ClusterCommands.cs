using System.CommandLine;

namespace WalrusGossip.Cli.Cluster;

/// <summary>The commands that talk to a running cluster, plus <c>certs</c>, and the global connection options.</summary>
internal static class ClusterCommands
{
    /// <summary>Adds append, read, tail, status, members, transfer-leader, member, compact, certs, endpoint health and version, and the global options, to <paramref name="root"/>.</summary>
    public static void AddTo(RootCommand root, CliConsole console)
    {
        var connection = new ConnectionOptions(console.Environment);
        connection.AddTo(root);
        root.Subcommands.Add(AppendCommand.Create(console, connection));
        root.Subcommands.Add(ReadCommands.CreateRead(console, connection));
        root.Subcommands.Add(ReadCommands.CreateTail(console, connection));
        root.Subcommands.Add(StreamCommands.Create(console, connection));
        root.Subcommands.Add(ConsumerCommands.Create(console, connection));
        root.Subcommands.Add(InfoCommands.CreateStatus(console, connection));
        root.Subcommands.Add(InfoCommands.CreateMembers(console, connection));
        root.Subcommands.Add(InfoCommands.CreateTransferLeader(console, connection));
        root.Subcommands.Add(MemberCommands.Create(console, connection));
        root.Subcommands.Add(CheckCommands.Create(console, connection));
        root.Subcommands.Add(KeyringCommands.Create(console, connection));
        root.Subcommands.Add(AuthCommands.Create(console, connection));
        root.Subcommands.Add(CompactCommand.Create(console, connection));
        root.Subcommands.Add(SnapshotCommands.Create(console, connection));
        root.Subcommands.Add(CertsCommands.Create(console));
        root.Subcommands.Add(HealthCommands.CreateEndpoint(console, connection));
        root.Subcommands.Add(HealthCommands.CreateVersion(console, connection));
    }

    /// <summary>The full walrusctl command tree writing to <paramref name="console"/>.</summary>
    public static RootCommand CreateRoot(CliConsole console)
    {
        var root = new RootCommand("walrusctl: operate a WalrusGossip store and cluster");
        root.Subcommands.Add(StoreCommands.Create());
        root.Subcommands.Add(BenchCommands.Create());
        AddTo(root, console);
        return root;
    }
}
