using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl compact</c>: every agent's checkpoint and retention state, and with <c>--now</c> a checkpoint on each.</summary>
internal static class CompactCommand
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var now = new Option<bool>("--now") { Description = "Have every agent take a checkpoint now; retention then deletes what its policy lets go" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array: endpoint, firstIndex, lastIndex, checkpointIndex, appliedIndex, dataBytes, retention, retentionMaxAgeMs, checkpointing, checkpointStarted, message" };
        var command = new Command("compact", "Show each agent's first retained index, checkpoint and retention policy; --now starts a checkpoint on each. Exit 1 when no agent answers") { now, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var nodes = await client.GetClusterStatusAsync(token).ConfigureAwait(false);
                var answers = new List<(string Endpoint, CompactionInfo? Info, string? Error)>();
                foreach (var node in nodes)
                {
                    if (node.Status is null)
                    {
                        answers.Add((node.Endpoint, null, node.Error));
                        continue;
                    }

                    try
                    {
                        answers.Add((node.Endpoint, await client.CompactAsync(node.Endpoint, parse.GetValue(now), token).ConfigureAwait(false), null));
                    }
                    catch (WalrusException e)
                    {
                        answers.Add((node.Endpoint, null, e.Message));
                    }
                }

                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(Json(answers)).ConfigureAwait(false);
                }
                else
                {
                    console.Ansi.Write(Table(answers));
                    foreach (var (endpoint, info, error) in answers)
                    {
                        var text = error ?? info!.Message;
                        if (text.Length > 0)
                        {
                            await console.Out.WriteLineAsync($"{endpoint}: {text}").ConfigureAwait(false);
                        }
                    }
                }

                return answers.Any(a => a.Info is not null) ? CliRunner.Ok : CliRunner.Unhealthy;
            },
            ct));
        return command;
    }

    private static Table Table(List<(string Endpoint, CompactionInfo? Info, string? Error)> answers)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("endpoint", "first", "checkpoint", "applied", "last", "bytes", "retention", "max-age", "checkpointing");
        foreach (var (endpoint, info, _) in answers)
        {
            if (info is null)
            {
                table.AddRow(Markup.Escape(endpoint), "[red]unreachable[/]", "-", "-", "-", "-", "-", "-", "-");
                continue;
            }

            table.AddRow(
                Markup.Escape(endpoint),
                info.FirstIndex.ToString(inv),
                info.CheckpointIndex.ToString(inv),
                info.AppliedIndex.ToString(inv),
                info.LastIndex.ToString(inv),
                info.DataBytes.ToString(inv),
                Markup.Escape(info.Retention),
                info.RetentionMaxAge == TimeSpan.Zero ? "none" : info.RetentionMaxAge.ToString("c", inv),
                info.Checkpointing ? "yes" : "no");
        }

        return table;
    }

    private static string Json(List<(string Endpoint, CompactionInfo? Info, string? Error)> answers) => InfoCommands.WriteJson(json =>
    {
        json.WriteStartArray();
        foreach (var (endpoint, info, error) in answers)
        {
            json.WriteStartObject();
            json.WriteString("endpoint", endpoint);
            if (info is null)
            {
                json.WriteString("error", error);
            }
            else
            {
                json.WriteNumber("firstIndex", info.FirstIndex);
                json.WriteNumber("lastIndex", info.LastIndex);
                json.WriteNumber("checkpointIndex", info.CheckpointIndex);
                json.WriteNumber("appliedIndex", info.AppliedIndex);
                json.WriteNumber("dataBytes", info.DataBytes);
                json.WriteString("retention", info.Retention);
                json.WriteNumber("retentionMaxAgeMs", (long)info.RetentionMaxAge.TotalMilliseconds);
                json.WriteBoolean("checkpointing", info.Checkpointing);
                json.WriteBoolean("checkpointStarted", info.CheckpointStarted);
                json.WriteString("message", info.Message);
            }

            json.WriteEndObject();
        }

        json.WriteEndArray();
    });
}
