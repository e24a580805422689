using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl version</c> and <c>walrusctl endpoint health</c>.</summary>
internal static class HealthCommands
{
    /// <summary>walrusctl's informational version (<c>VersionPrefix</c> of Directory.Build.props).</summary>
    public static string ClientVersion { get; } =
        typeof(HealthCommands).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(HealthCommands).Assembly.GetName().Version?.ToString()
        ?? "0.0.0";

    public static Command CreateVersion(CliConsole console, ConnectionOptions connection)
    {
        var clientOnly = new Option<bool>("--client") { Description = "Print only walrusctl's version; do not ask the cluster" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: client, agents [endpoint, nodeId, version, error]" };
        var command = new Command(
            "version",
            "walrusctl's version, and every agent's when a cluster is configured (flags, WALRUS_ENDPOINTS/WALRUS_CONTEXT or the default context). Exit 1 when a cluster is configured and no agent answers")
            { clientOnly, json };
        command.SetAction(async (parse, ct) =>
        {
            if (parse.GetValue(clientOnly) || !connection.HasCluster(parse))
            {
                await console.Out.WriteLineAsync(parse.GetValue(json)
                    ? InfoCommands.WriteJson(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("client", ClientVersion);
                        w.WriteStartArray("agents");
                        w.WriteEndArray();
                        w.WriteEndObject();
                    })
                    : $"walrusctl {ClientVersion}").ConfigureAwait(false);
                return CliRunner.Ok;
            }

            return await ClusterCommand.RunAsync(console, () => connection.Resolve(parse), async (client, token) =>
            {
                var nodes = await client.GetClusterStatusAsync(token).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(InfoCommands.WriteJson(w =>
                    {
                        w.WriteStartObject();
                        w.WriteString("client", ClientVersion);
                        w.WriteStartArray("agents");
                        foreach (var node in nodes)
                        {
                            w.WriteStartObject();
                            w.WriteString("endpoint", node.Endpoint);
                            if (node.Status is { } s)
                            {
                                w.WriteNumber("nodeId", s.NodeId);
                                w.WriteString("version", s.AgentVersion);
                            }
                            else
                            {
                                w.WriteString("error", node.Error);
                            }

                            w.WriteEndObject();
                        }

                        w.WriteEndArray();
                        w.WriteEndObject();
                    })).ConfigureAwait(false);
                }
                else
                {
                    await console.Out.WriteLineAsync($"walrusctl {ClientVersion}").ConfigureAwait(false);
                    foreach (var node in nodes)
                    {
                        await console.Out.WriteLineAsync(node.Status is { } s
                            ? string.Create(CultureInfo.InvariantCulture, $"agent {s.NodeId} {node.Endpoint} {s.AgentVersion}")
                            : $"agent ? {node.Endpoint} unreachable: {node.Error}").ConfigureAwait(false);
                    }
                }

                return nodes.Any(n => n.Status is not null) ? CliRunner.Ok : CliRunner.Unhealthy;
            }, ct).ConfigureAwait(false);
        });
        return command;
    }

    public static Command CreateEndpoint(CliConsole console, ConnectionOptions connection)
    {
        var endpoint = new Command("endpoint", "The configured endpoints, one by one");
        var json = new Option<bool>("--json") { Description = "Print one JSON object: healthy, quorum, healthyCount, leaderId, endpoints [endpoint, healthy, nodeId, role, term, leaderId, tookMs, error]" };
        var health = new Command(
            "health",
            "Ask every configured endpoint (not the peers they report) for its status: healthy when it answers and knows a leader. Exit 0 when a quorum (a majority) of the configured endpoints is healthy and agrees on one leader, else 1")
            { json };
        health.SetAction((parse, ct) => ClusterCommand.RunAsync(console, () => connection.Resolve(parse), async (client, token) =>
        {
            var results = await Task.WhenAll(client.Endpoints.Select(e => ProbeAsync(client, e, token))).ConfigureAwait(false);
            var verdict = EndpointHealth.Judge(results);
            if (parse.GetValue(json))
            {
                await console.Out.WriteLineAsync(HealthJson(verdict)).ConfigureAwait(false);
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                var table = new Table().AddColumns("endpoint", "health", "node", "role", "term", "leader", "took", "error");
                foreach (var r in verdict.Endpoints)
                {
                    var s = r.Status;
                    table.AddRow(
                        Markup.Escape(r.Endpoint),
                        r.Healthy ? "healthy" : "unhealthy",
                        s?.NodeId.ToString(inv) ?? "-",
                        s is null ? "-" : InfoCommands.RoleName(s.Role),
                        s?.Term.ToString(inv) ?? "-",
                        s is null || s.LeaderId == 0 ? "-" : s.LeaderId.ToString(inv),
                        string.Create(inv, $"{r.Took.TotalMilliseconds:0.#} ms"),
                        Markup.Escape(r.Error ?? ""));
                }

                console.Ansi.Write(table);
                await console.Out.WriteLineAsync(verdict.Ok
                    ? string.Create(inv, $"{verdict.HealthyCount} of {verdict.Endpoints.Count} endpoints healthy (quorum {verdict.Quorum}), leader {verdict.LeaderId}")
                    : string.Create(inv, $"no quorum: {verdict.AgreeingCount} of {verdict.Endpoints.Count} endpoints healthy and agreeing on a leader, {verdict.Quorum} needed")).ConfigureAwait(false);
            }

            return verdict.Ok ? CliRunner.Ok : CliRunner.Unhealthy;
        }, ct));
        endpoint.Subcommands.Add(health);
        return endpoint;
    }

    private static async Task<EndpointHealth.Probe> ProbeAsync(WalrusClient client, string endpoint, CancellationToken token)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var status = await client.GetStatusAsync(endpoint, token).ConfigureAwait(false);
            return new EndpointHealth.Probe(endpoint, status, null, clock.Elapsed);
        }
        catch (WalrusException e)
        {
            return new EndpointHealth.Probe(endpoint, null, e.Message, clock.Elapsed);
        }
    }

    private static string HealthJson(EndpointHealth verdict) => InfoCommands.WriteJson(w =>
    {
        w.WriteStartObject();
        w.WriteBoolean("healthy", verdict.Ok);
        w.WriteNumber("quorum", verdict.Quorum);
        w.WriteNumber("healthyCount", verdict.HealthyCount);
        if (verdict.LeaderId is { } leader)
        {
            w.WriteNumber("leaderId", leader);
        }
        else
        {
            w.WriteNull("leaderId");
        }

        w.WriteStartArray("endpoints");
        foreach (var r in verdict.Endpoints)
        {
            w.WriteStartObject();
            w.WriteString("endpoint", r.Endpoint);
            w.WriteBoolean("healthy", r.Healthy);
            if (r.Status is { } s)
            {
                w.WriteNumber("nodeId", s.NodeId);
                w.WriteString("role", InfoCommands.RoleName(s.Role));
                w.WriteNumber("term", s.Term);
                w.WriteNumber("leaderId", s.LeaderId);
            }

            w.WriteNumber("tookMs", Math.Round(r.Took.TotalMilliseconds, 1));
            if (r.Error is not null)
            {
                w.WriteString("error", r.Error);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    });
}

/// <summary>
/// The verdict of <c>endpoint health</c>: an endpoint is healthy when it answered and knows a leader; the cluster is
/// healthy when a majority of the configured endpoints is healthy and names the same leader.
/// </summary>
internal sealed record EndpointHealth(IReadOnlyList<EndpointHealth.Probe> Endpoints, int Quorum, int HealthyCount, int AgreeingCount, ulong? LeaderId)
{
    public bool Ok => AgreeingCount >= Quorum && LeaderId is not null;

    public static EndpointHealth Judge(IReadOnlyList<Probe> probes)
    {
        var quorum = (probes.Count / 2) + 1;
        var healthy = probes.Where(p => p.Healthy).ToList();
        var largest = healthy.GroupBy(p => p.Status!.LeaderId).OrderByDescending(g => g.Count()).ThenBy(g => g.Key).FirstOrDefault();
        var agreeing = largest?.Count() ?? 0;
        return new EndpointHealth(probes, quorum, healthy.Count, agreeing, agreeing >= quorum ? largest!.Key : null);
    }

    /// <summary>One endpoint's answer (or why there was none) and how long it took.</summary>
    public sealed record Probe(string Endpoint, NodeStatus? Status, string? Error, TimeSpan Took)
    {
        public bool Healthy => Status is { LeaderId: not 0 };
    }
}
