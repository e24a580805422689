using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl keyring list|install|use|remove</c>: the gossip encryption keys of every agent.</summary>
internal static class KeyringCommands
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("keyring", "Gossip encryption keys (AES-GCM) of every agent. Rotate without downtime: install KEY, then use KEY, then remove OLD");
        command.Subcommands.Add(CreateOne(console, connection, "list", GossipKeyringOperation.List, "Show each agent's key ids (primary first) and dropped gossip"));
        command.Subcommands.Add(CreateOne(console, connection, "install", GossipKeyringOperation.Install, "Add KEY (base64, 16/24/32 bytes: openssl rand -base64 32) as an accepted key on every agent"));
        command.Subcommands.Add(CreateOne(console, connection, "use", GossipKeyringOperation.Use, "Make the installed KEY the primary on every agent"));
        command.Subcommands.Add(CreateOne(console, connection, "remove", GossipKeyringOperation.Remove, "Remove KEY (not the primary) from every agent"));
        return command;
    }

    private static Command CreateOne(CliConsole console, ConnectionOptions connection, string name, GossipKeyringOperation operation, string description)
    {
        var keyArgument = new Argument<string>("key") { Description = "The key, base64" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array: endpoint, keyIds, droppedPlaintext, droppedUnauthenticated, error" };
        var command = new Command(name, description + ". Exit 1 unless every agent answered OK") { json };
        if (operation != GossipKeyringOperation.List)
        {
            command.Arguments.Add(keyArgument);
        }

        command.SetAction((parse, ct) =>
        {
            byte[]? key = null;
            return ClusterCommand.RunAsync(
                console,
                () =>
                {
                    if (operation != GossipKeyringOperation.List)
                    {
                        try
                        {
                            key = WalrusGossip.Membership.GossipKeyring.ParseKey(parse.GetValue(keyArgument)!);
                        }
                        catch (FormatException e)
                        {
                            throw new ArgumentException(e.Message, e);
                        }
                    }

                    return connection.Resolve(parse);
                },
                async (client, token) =>
                {
                    var answers = new List<(string Endpoint, GossipKeyringInfo? Info, string? Error)>();
                    foreach (var node in await client.GetClusterStatusAsync(token).ConfigureAwait(false))
                    {
                        try
                        {
                            answers.Add((node.Endpoint, await client.ChangeGossipKeyringAsync(node.Endpoint, operation, key, token).ConfigureAwait(false), null));
                        }
                        catch (WalrusException e)
                        {
                            answers.Add((node.Endpoint, null, e.Message));
                        }
                    }

                    if (parse.GetValue(json))
                    {
                        await console.Out.WriteLineAsync(JsonSerializer.Serialize(answers.Select(a => new Dictionary<string, object?>
                        {
                            ["endpoint"] = a.Endpoint,
                            ["keyIds"] = a.Info?.KeyIds,
                            ["droppedPlaintext"] = a.Info?.DroppedPlaintext,
                            ["droppedUnauthenticated"] = a.Info?.DroppedUnauthenticated,
                            ["error"] = a.Error,
                        }))).ConfigureAwait(false);
                    }
                    else
                    {
                        var table = new Table().AddColumns("endpoint", "keys (primary first)", "dropped plaintext", "dropped unauthenticated", "result");
                        foreach (var (endpoint, info, error) in answers)
                        {
                            table.AddRow(
                                Markup.Escape(endpoint),
                                info is null ? "-" : info.KeyIds.Count == 0 ? "(plaintext)" : string.Join(", ", info.KeyIds),
                                info?.DroppedPlaintext.ToString(CultureInfo.InvariantCulture) ?? "-",
                                info?.DroppedUnauthenticated.ToString(CultureInfo.InvariantCulture) ?? "-",
                                error is null ? "ok" : $"[red]{Markup.Escape(error)}[/]");
                        }

                        console.Ansi.Write(table);
                    }

                    return answers.Count > 0 && answers.All(a => a.Error is null) ? CliRunner.Ok : CliRunner.Unhealthy;
                },
                ct);
        });
        return command;
    }
}
