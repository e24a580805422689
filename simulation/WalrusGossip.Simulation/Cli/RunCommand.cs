using System.Globalization;
using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Cli;

/// <summary><c>walrus-sim run</c>: one seed, a verdict, the replay command.</summary>
internal static class RunCommand
{
    public static async Task<int> ExecuteAsync(SimOptions options, string? tracePath, bool traceHash, TextWriter stdout)
    {
        RunResult result;
        if (tracePath is not null)
        {
            await using var writer = new StreamWriter(tracePath, append: false) { NewLine = "\n" };
            result = SimulationRunner.Run(options, traceHash, writer);
        }
        else
        {
            result = SimulationRunner.Run(options, traceHash);
        }

        var s = result.Stats;
        var speed = result.WallTime.TotalSeconds > 0 ? s.SimTime.TotalSeconds / result.WallTime.TotalSeconds : 0;
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"seed {options.Seed}: {s.Steps} steps, {s.SimTime.TotalSeconds:0.0} s simulated in {result.WallTime.TotalSeconds:0.00} s ({speed:0}x real time); " +
            $"elections {s.Elections}, partitions {s.Partitions}, crashes {s.Crashes}, pauses {s.Pauses}, appends acknowledged {s.AppendsAcknowledged}, " +
            $"reads {s.LinearizableReads} linearizable / {s.StaleReads} stale / {s.StreamReads} by stream, committed {s.CommittedEntries}, torn tails {s.TornTailsRecovered}, " +
            $"checkpoints {s.Checkpoints} ({s.RestartsFromCheckpoint} restarts from one), snapshots installed {s.SnapshotsInstalled} ({s.SnapshotChunksSent} chunks, {s.SnapshotTransfersResumed} resumed), age-retention passes {s.AgeRetentionPasses}, disk-full windows {s.DiskFullWindows}, " +
            $"member changes {s.OperatorMemberChanges} by the operator ({s.OperatorMemberChangesRefused} refused, {s.RemovedNodesWiped} removed nodes wiped), security changes {s.SecurityChanges}, consumer deliveries {s.ConsumerDeliveries} ({s.ConsumerRedeliveries} redelivered, ack floor {s.ConsumerAckFloor}, {s.ConsumerEntries} consumer entries), key rotations {s.KeyRotations}, impostor datagrams {s.ImpostorDatagrams} ({s.GossipDropped} gossip messages dropped, {s.UncertifiedMembersRefused} uncertified members refused), autopilot {s.AutopilotRemovals} removals / {s.AutopilotPromotions} promotions, " +
            $"bit flips {s.BitFlipsDetected}/{s.BitFlips} detected ({s.BitFlipsLeftForRepair} left on disk, {s.EntriesRepaired} entries repaired from peers, {s.DamageReplacedBySnapshot} ranges replaced by a checkpoint), consistency rounds {s.ConsistencyRounds} ({s.ConsistencyRangesCompared} ranges compared, silent corruption {s.SilentCorruptionsFound}/{s.SilentCorruptions} found), worst failover {s.WorstFailoverMs:0} ms")).ConfigureAwait(false);
        if (result.TraceHash is not null && traceHash)
        {
            await stdout.WriteLineAsync("trace-hash " + result.TraceHash).ConfigureAwait(false);
        }

        if (result.Violation is { } v)
        {
            await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"VIOLATION {v.Property} at step {v.Step} ({v.SimTime.TotalMilliseconds:0} ms simulated): {v.Detail}")).ConfigureAwait(false);
            await stdout.WriteLineAsync("replay: " + options.ReplayCommand() + " --trace trace.log").ConfigureAwait(false);
            return SimCli.ViolationFound;
        }

        await stdout.WriteLineAsync("all checks held").ConfigureAwait(false);
        return SimCli.Passed;
    }
}
