using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl status</c>, <c>members</c> and <c>transfer-leader</c>.</summary>
internal static class InfoCommands
{
    public static Command CreateStatus(CliConsole console, ConnectionOptions connection)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array: nodeId, role, term, commitIndex, lastIndex, leaderId, addresses per node" };
        var command = new Command("status", "Raft status of every node: the configured endpoints and the peers they report. Exit 1 when no node answers") { json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var nodes = await client.GetClusterStatusAsync(token).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(StatusJson(nodes)).ConfigureAwait(false);
                }
                else
                {
                    console.Ansi.Write(StatusTable(nodes));
                    foreach (var node in nodes.Where(n => n.Error is not null))
                    {
                        await console.Out.WriteLineAsync($"{node.Endpoint} unreachable: {node.Error}").ConfigureAwait(false);
                    }
                }

                return nodes.Any(n => n.Status is not null) ? CliRunner.Ok : CliRunner.Unhealthy;
            },
            ct));
        return command;
    }

    public static Command CreateMembers(CliConsole console, ConnectionOptions connection)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array: name, address, state, incarnation, lastUpdateAgeMs, metadata" };
        var command = new Command("members", "The SWIM membership view of an agent: every member, its state and metadata") { json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var members = await client.GetMembersAsync(token).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(MembersJson(members)).ConfigureAwait(false);
                }
                else
                {
                    console.Ansi.Write(MembersTable(members));
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    public static Command CreateTransferLeader(CliConsole console, ConnectionOptions connection)
    {
        var to = new Option<ulong>("--to") { Description = "Node id of the voter to become leader", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: target, leaderId (0 when not known yet), message" };
        var command = new Command("transfer-leader", "Ask the leader to hand leadership to another voter") { to, json };
        command.SetAction((parse, ct) =>
        {
            var target = parse.GetValue(to);
            return ClusterCommand.RunAsync(
                console,
                () => target == 0 ? throw new ArgumentException("--to must be a node id (at least 1)") : connection.Resolve(parse),
                async (client, token) =>
                {
                    var result = await client.TransferLeaderAsync(target, token).ConfigureAwait(false);
                    if (parse.GetValue(json))
                    {
                        await console.Out.WriteLineAsync(JsonSerializer.Serialize(new { target, leaderId = result.LeaderId, message = result.Message })).ConfigureAwait(false);
                        return CliRunner.Ok;
                    }

                    var text = string.Create(CultureInfo.InvariantCulture, $"leadership transfer to node {target} started");
                    if (result.LeaderId != 0)
                    {
                        text += string.Create(CultureInfo.InvariantCulture, $"; leader now {result.LeaderId}");
                    }

                    if (result.Message.Length > 0)
                    {
                        text += $" ({result.Message})";
                    }

                    await console.Out.WriteLineAsync(text).ConfigureAwait(false);
                    return CliRunner.Ok;
                },
                ct);
        });
        return command;
    }

    /// <summary>leader, follower, candidate (pre-candidates included), learner, or unknown.</summary>
    internal static string RoleName(NodeRole role) => role switch
    {
        NodeRole.Leader => "leader",
        NodeRole.Follower => "follower",
        NodeRole.Candidate or NodeRole.PreCandidate => "candidate",
        NodeRole.Learner => "learner",
        _ => "unknown",
    };

    internal static string StatusJson(IReadOnlyList<EndpointStatus> nodes)
    {
        return WriteJson(json =>
        {
            json.WriteStartArray();
            foreach (var node in nodes)
            {
                json.WriteStartObject();
                json.WriteString("endpoint", node.Endpoint);
                if (node.Status is { } s)
                {
                    json.WriteNumber("nodeId", s.NodeId);
                    json.WriteString("name", s.Name);
                    json.WriteString("role", RoleName(s.Role));
                    json.WriteNumber("term", s.Term);
                    json.WriteNumber("commitIndex", s.CommitIndex);
                    json.WriteNumber("appliedIndex", s.AppliedIndex);
                    json.WriteNumber("firstIndex", s.FirstIndex);
                    json.WriteNumber("lastIndex", s.LastIndex);
                    json.WriteNumber("leaderId", s.LeaderId);
                    json.WriteStartObject("addresses");
                    foreach (var (kind, address) in s.Addresses.OrderBy(a => a.Key, StringComparer.Ordinal))
                    {
                        json.WriteString(kind, address);
                    }

                    json.WriteEndObject();
                    json.WriteString("transport", s.TransportMode);
                    json.WriteString("version", s.AgentVersion);
                    if (s.CertificateNotAfter is { } notAfter)
                    {
                        json.WriteString("certificateNotAfter", notAfter.ToString("O", CultureInfo.InvariantCulture));
                    }

                    json.WriteStartObject("consistency");
                    json.WriteNumber("checks", s.Consistency.Checks);
                    json.WriteNumber("mismatches", s.Consistency.Mismatches);
                    json.WriteNumber("lastMismatchNode", s.Consistency.LastMismatchNode);
                    json.WriteNumber("lastMismatchFirstIndex", s.Consistency.LastMismatchFirstIndex);
                    json.WriteNumber("lastMismatchLastIndex", s.Consistency.LastMismatchLastIndex);
                    json.WriteEndObject();
                }
                else
                {
                    json.WriteString("error", node.Error);
                }

                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static Table StatusTable(IReadOnlyList<EndpointStatus> nodes)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("node", "name", "role", "term", "commit", "last", "leader", "replica checks", "cert expires", "endpoint");
        foreach (var node in nodes)
        {
            if (node.Status is { } s)
            {
                var role = RoleName(s.Role);
                table.AddRow(
                    s.NodeId.ToString(inv),
                    Markup.Escape(s.Name),
                    s.Role == NodeRole.Leader ? $"[bold green]{role}[/]" : role,
                    s.Term.ToString(inv),
                    s.CommitIndex.ToString(inv),
                    s.LastIndex.ToString(inv),
                    s.LeaderId == 0 ? "-" : s.LeaderId.ToString(inv),
                    ReplicaChecks(s.Consistency),
                    CertificateExpiry(s.CertificateNotAfter),
                    Markup.Escape(node.Endpoint));
            }
            else
            {
                table.AddRow("?", "-", "[red]unreachable[/]", "-", "-", "-", "-", "-", "-", Markup.Escape(node.Endpoint));
            }
        }

        return table;
    }

    /// <summary>Days until the agent's certificate expires: "-" unknown, yellow under 30 days, red when expired.</summary>
    private static string CertificateExpiry(DateTimeOffset? notAfter)
    {
        if (notAfter is not { } at)
        {
            return "-";
        }

        var days = (at - DateTimeOffset.UtcNow).TotalDays;
        var text = string.Create(CultureInfo.InvariantCulture, $"{days:0} d");
        return days <= 0 ? "[red]expired[/]" : days < 30 ? $"[yellow]{text}[/]" : text;
    }

    /// <summary>The replica consistency checks an agent ran as leader: "-", "12 ok", or the mismatches in red with the last one.</summary>
    private static string ReplicaChecks(ConsistencySummary c) =>
        c.Checks == 0 ? "-"
        : c.Mismatches == 0 ? string.Create(CultureInfo.InvariantCulture, $"{c.Checks} ok")
        : string.Create(CultureInfo.InvariantCulture, $"[bold red]{c.Mismatches} mismatched[/] (last: node {c.LastMismatchNode} at {c.LastMismatchFirstIndex}..{c.LastMismatchLastIndex})");

    internal static string MembersJson(IReadOnlyList<ClusterMember> members)
    {
        return WriteJson(json =>
        {
            json.WriteStartArray();
            foreach (var m in members)
            {
                json.WriteStartObject();
                json.WriteString("name", m.Name);
                json.WriteString("address", m.Address);
                json.WriteString("state", m.State.ToString().ToLowerInvariant());
                json.WriteNumber("incarnation", m.Incarnation);
                json.WriteNumber("lastUpdateAgeMs", (long)m.LastUpdateAge.TotalMilliseconds);
                json.WriteStartObject("metadata");
                foreach (var (key, value) in m.Metadata.OrderBy(a => a.Key, StringComparer.Ordinal))
                {
                    json.WriteString(key, value);
                }

                json.WriteEndObject();
                json.WriteEndObject();
            }

            json.WriteEndArray();
        });
    }

    private static Table MembersTable(IReadOnlyList<ClusterMember> members)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("name", "gossip address", "state", "incarnation", "age", "raft role", "client address");
        foreach (var m in members.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            var state = m.State.ToString().ToLowerInvariant();
            table.AddRow(
                Markup.Escape(m.Name),
                Markup.Escape(m.Address),
                m.State == MemberState.Alive ? $"[green]{state}[/]" : $"[yellow]{state}[/]",
                m.Incarnation.ToString(inv),
                string.Create(inv, $"{m.LastUpdateAge.TotalSeconds:0.0}s"),
                Markup.Escape(m.Metadata.GetValueOrDefault(WalrusGossip.Membership.MetadataKeys.RaftRole) ?? "-"),
                Markup.Escape(m.Metadata.GetValueOrDefault(WalrusGossip.Membership.MetadataKeys.ClientAddress) ?? "-"));
        }

        return table;
    }

    internal static string WriteJson(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, EntryFormat.Indented))
        {
            write(json);
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
