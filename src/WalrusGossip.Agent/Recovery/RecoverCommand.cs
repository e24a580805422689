using System.Globalization;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Node.Recovery;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Agent.Recovery;

/// <summary>
/// <c>walrus-agent recover --force-new-cluster [agent flags]</c>: lost-quorum recovery on a stopped agent's data
/// directory (<see cref="ForceNewCluster"/>). Takes the same configuration as the agent (file, environment, flags) to
/// find the node id and data directory, and refuses to do anything without <c>--force-new-cluster</c>.
/// </summary>
public static class RecoverCommand
{
    private const string Flag = "--force-new-cluster";

    /// <summary>Runs the command.</summary>
    /// <param name="args">Arguments after <c>recover</c>.</param>
    /// <returns>0 when the directory was rewritten; 1 when recovery was refused or failed; 2 for usage or configuration errors.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Contains("--help") || args.Contains("-h"))
        {
            await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
            return 0;
        }

        if (!args.Contains(Flag))
        {
            await Console.Error.WriteLineAsync("walrus-agent recover: refusing to run without --force-new-cluster.\n\n" + Usage).ConfigureAwait(false);
            return 2;
        }

        AgentOptions options;
        try
        {
            (options, _) = AgentConfiguration.Load([.. args.Where(a => a != Flag)]);
        }
        catch (AgentConfigurationException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent recover: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        try
        {
            using var device = FileSystemDevice.Create(IoEngine.Psync);
            var storage = new StorageOptions { MaxSegmentBytes = options.Storage.MaxSegmentBytes, MaxEntryBytes = options.Storage.MaxEntryBytes, IoEngine = IoEngine.Psync };
            var result = ForceNewCluster.Run(device, options.Node.DataDir, options.Node.Id, storage);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"""
                walrus-agent recover: {options.Node.DataDir} is now a one-voter cluster of node {result.NodeId}.
                  previous configuration: {result.PreviousConfig}
                  kept every entry up to index {result.LastIndex}; all of them are committed now (the node had last persisted commit {result.PreviousCommit})
                  appended configuration voters=[{result.NodeId}] at index {result.ConfigIndex}, term {result.Term}
                Next: start this agent as usual; it elects itself and serves appends. Wipe the data directory of every other
                former member before starting it again: each then joins as a learner and autopilot promotes up to Cluster:Voters.
                """)).ConfigureAwait(false);
            return 0;
        }
        catch (RecoveryRefusedException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent recover: refused: " + e.Message).ConfigureAwait(false);
            return 1;
        }
        catch (StorageException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent recover: " + e.Message + " (is the agent still running?)").ConfigureAwait(false);
            return 1;
        }
    }

    private const string Usage = """
        Usage: walrus-agent recover --force-new-cluster [--node-id N] [--data-dir DIR] [--config FILE] [other agent flags]

        Lost-quorum recovery. Run it on a STOPPED agent, the most up-to-date survivor, only when a majority of the
        voters is gone for good. It keeps every entry of this agent's log, appends a configuration with this agent as
        the only voter and commits everything it holds; entries the lost majority committed that it never received are
        lost. Afterwards start it normally, and wipe the data directories of the other former members before they start
        again (they rejoin as learners). See docs/operations.md.
        """;
}
