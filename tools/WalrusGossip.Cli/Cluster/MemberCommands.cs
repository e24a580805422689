using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl member list|promote|demote|remove</c>: the Raft configuration as the leader sees it, and operator changes.</summary>
internal static class MemberCommands
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("member", "Raft membership: list voters and learners, promote, demote or remove a member (one change at a time, answered once committed)");
        command.Subcommands.Add(CreateList(console, connection));
        command.Subcommands.Add(CreateChange(console, connection, "promote", MemberChange.Promote, "Promote a caught-up learner to voter"));
        command.Subcommands.Add(CreateChange(console, connection, "demote", MemberChange.Demote, "Demote a voter to learner (autopilot leaves it a learner for 10 minutes)"));
        command.Subcommands.Add(CreateChange(console, connection, "remove", MemberChange.Remove, "Remove a voter or learner; the removed agent is told and stops voting (wipe its data directory to rejoin)"));
        return command;
    }

    private static Command CreateList(CliConsole console, ConnectionOptions connection)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array: nodeId, suffrage (voter|learner|leader), matchIndex, lag, swimState" };
        var command = new Command("list", "Voters and learners of the leader's configuration with their match index and lag (entries behind the leader's last index). Exit 1 without a leader") { json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var nodes = await client.GetClusterStatusAsync(token).ConfigureAwait(false);
                var leader = nodes.Select(n => n.Status).FirstOrDefault(s => s?.Role == NodeRole.Leader);
                if (leader is null)
                {
                    await console.Error.WriteLineAsync("no leader answered: the configuration cannot be shown (is a quorum up?)").ConfigureAwait(false);
                    return CliRunner.Unhealthy;
                }

                IReadOnlyList<ClusterMember> swim = [];
                try
                {
                    swim = await client.GetMembersAsync(token).ConfigureAwait(false);
                }
                catch (WalrusException)
                {
                }

                var rows = Rows(leader, swim);
                if (parse.GetValue(json))
                {
                    var items = rows.Select(r => new Dictionary<string, object>
                    {
                        ["nodeId"] = r.NodeId,
                        ["suffrage"] = r.Suffrage,
                        ["matchIndex"] = r.Match,
                        ["lag"] = r.Lag,
                        ["swimState"] = r.Swim,
                    });
                    await console.Out.WriteLineAsync(JsonSerializer.Serialize(items)).ConfigureAwait(false);
                }
                else
                {
                    var table = new Table().AddColumns("node", "suffrage", "match index", "lag", "swim");
                    foreach (var r in rows)
                    {
                        table.AddRow(Inv(r.NodeId), r.Suffrage, Inv(r.Match), Inv(r.Lag), r.Swim);
                    }

                    console.Ansi.Write(table);
                    await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"leader {leader.NodeId}, term {leader.Term}, last index {leader.LastIndex}, {rows.Count(r => r.Suffrage != "learner")} voters, {rows.Count(r => r.Suffrage == "learner")} learners")).ConfigureAwait(false);
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static List<(ulong NodeId, string Suffrage, ulong Match, ulong Lag, string Swim)> Rows(NodeStatus leader, IReadOnlyList<ClusterMember> swim)
    {
        string SwimOf(ulong id) => swim.FirstOrDefault(m => m.Name == Inv(id)) is { } m ? m.State.ToString().ToLowerInvariant() : "unknown";
        var rows = new List<(ulong, string, ulong, ulong, string)>();
        foreach (var peer in leader.Peers.OrderBy(p => p.NodeId))
        {
            if (peer.NodeId == leader.NodeId)
            {
                rows.Add((peer.NodeId, "leader", leader.LastIndex, 0, SwimOf(peer.NodeId)));
                continue;
            }

            var lag = leader.LastIndex > peer.MatchIndex ? leader.LastIndex - peer.MatchIndex : 0;
            rows.Add((peer.NodeId, peer.Voter ? "voter" : "learner", peer.MatchIndex, lag, SwimOf(peer.NodeId)));
        }

        return rows;
    }

    private static Command CreateChange(CliConsole console, ConnectionOptions connection, string name, MemberChange change, string description)
    {
        var id = new Argument<ulong>("node-id") { Description = "The member's node id" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: change, nodeId, index, leaderId, voters, learners, message" };
        var command = new Command(name, description) { id, json };
        command.SetAction((parse, ct) =>
        {
            var nodeId = parse.GetValue(id);
            return ClusterCommand.RunAsync(
                console,
                () => nodeId == 0 ? throw new ArgumentException("node-id must be at least 1") : connection.Resolve(parse),
                async (client, token) =>
                {
                    var result = await client.ChangeMemberAsync(change, nodeId, token).ConfigureAwait(false);
                    if (parse.GetValue(json))
                    {
                        await console.Out.WriteLineAsync(System.Text.Json.JsonSerializer.Serialize(new { change = name, nodeId, index = result.Index, leaderId = result.LeaderId, voters = result.Voters, learners = result.Learners, message = result.Message })).ConfigureAwait(false);
                        return CliRunner.Ok;
                    }

                    await console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                        $"{name} {nodeId}: committed at index {result.Index} by leader {result.LeaderId}; voters [{string.Join(',', result.Voters)}] learners [{string.Join(',', result.Learners)}]")).ConfigureAwait(false);
                    return CliRunner.Ok;
                },
                ct);
        });
        return command;
    }

    private static string Inv(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
