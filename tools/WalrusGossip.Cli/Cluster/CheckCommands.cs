using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl check consistency</c>: the leader compares a hash of committed entries with every replica now.</summary>
internal static class CheckCommands
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("check", "Verify the cluster");
        command.Subcommands.Add(CreateConsistency(console, connection));
        return command;
    }

    private static Command CreateConsistency(CliConsole console, ConnectionOptions connection)
    {
        var from = new Option<ulong>("--from") { Description = "First index (with --to); default: the last Cluster:ConsistencyCheckEntries committed entries" };
        var to = new Option<ulong>("--to") { Description = "Last index, inclusive (at most 65,536 entries after --from)" };
        var json = new Option<bool>("--json") { Description = "Print a JSON object: leaderId, firstIndex, lastIndex, peers [nodeId, verdict, firstIndex, lastIndex, leaderHash, peerHash, detail]" };
        var command = new Command("consistency",
            "Ask the leader to compare an XxHash3 of committed entries with every other member (etcd's corruption check). Exit 1 when a replica differs or no leader answers")
        { from, to, json };
        command.SetAction((parse, ct) =>
        {
            var first = parse.GetValue(from);
            var last = parse.GetValue(to);
            return ClusterCommand.RunAsync(
                console,
                () => (first == 0) != (last == 0) || last < first ? throw new ArgumentException("give both --from and --to (from <= to), or neither") : connection.Resolve(parse),
                async (client, token) =>
                {
                    var report = await client.CheckConsistencyAsync(first, last, token).ConfigureAwait(false);
                    if (parse.GetValue(json))
                    {
                        await console.Out.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
                        {
                            ["leaderId"] = report.LeaderId,
                            ["firstIndex"] = report.FirstIndex,
                            ["lastIndex"] = report.LastIndex,
                            ["peers"] = report.Peers.Select(p => new Dictionary<string, object>
                            {
                                ["nodeId"] = p.NodeId,
                                ["verdict"] = VerdictName(p.Verdict),
                                ["firstIndex"] = p.FirstIndex,
                                ["lastIndex"] = p.LastIndex,
                                ["leaderHash"] = Hex(p.LeaderHash),
                                ["peerHash"] = Hex(p.PeerHash),
                                ["detail"] = p.Detail,
                            }).ToList(),
                        })).ConfigureAwait(false);
                    }
                    else
                    {
                        var table = new Table().AddColumns("node", "verdict", "range", "leader hash", "peer hash", "detail");
                        foreach (var p in report.Peers)
                        {
                            var verdict = VerdictName(p.Verdict);
                            table.AddRow(
                                p.NodeId.ToString(CultureInfo.InvariantCulture),
                                p.Verdict == ReplicaVerdict.Mismatch ? $"[bold red]{verdict}[/]" : verdict,
                                p.FirstIndex == 0 ? "-" : string.Create(CultureInfo.InvariantCulture, $"{p.FirstIndex}..{p.LastIndex}"),
                                p.LeaderHash == 0 ? "-" : Hex(p.LeaderHash),
                                p.PeerHash == 0 ? "-" : Hex(p.PeerHash),
                                Markup.Escape(p.Detail));
                        }

                        console.Ansi.Write(table);
                        var mismatched = report.Peers.Count(p => p.Verdict == ReplicaVerdict.Mismatch);
                        var compared = report.Peers.Count(p => p.Verdict is ReplicaVerdict.Match or ReplicaVerdict.Mismatch);
                        await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                            $"leader {report.LeaderId} checked committed entries {report.FirstIndex}..{report.LastIndex}: {compared} of {report.Peers.Count} peers compared, {mismatched} differ")).ConfigureAwait(false);
                    }

                    return report.HasMismatch ? CliRunner.Unhealthy : CliRunner.Ok;
                },
                ct);
        });
        return command;
    }

    private static string VerdictName(ReplicaVerdict verdict) => verdict switch
    {
        ReplicaVerdict.Match => "match",
        ReplicaVerdict.Mismatch => "mismatch",
        ReplicaVerdict.Unavailable => "unavailable",
        _ => "no-answer",
    };

    private static string Hex(ulong value) => value.ToString("x16", CultureInfo.InvariantCulture);
}
