using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl consumer create|list|info|delete</c>: durable consumers (issue 19).</summary>
internal static class ConsumerCommands
{
    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("consumer", "Durable consumers of a stream: create, list, show, delete");
        command.Subcommands.Add(CreateCreate(console, connection));
        command.Subcommands.Add(CreateList(console, connection));
        command.Subcommands.Add(CreateInfo(console, connection));
        command.Subcommands.Add(CreateDelete(console, connection));
        return command;
    }

    private static Command CreateCreate(CliConsole console, ConnectionOptions connection)
    {
        var stream = new Argument<string>("stream") { Description = "The consumer's stream" };
        var name = new Argument<string>("name") { Description = "Consumer name: 1 to 64 of [A-Za-z0-9-_.]" };
        var ackTimeout = new Option<double>("--ack-timeout") { Description = "Seconds a delivered entry may stay unacknowledged before it is delivered again", DefaultValueFactory = _ => 30 };
        var from = new Option<ulong>("--from") { Description = "First stream sequence to deliver", DefaultValueFactory = _ => 1 };
        var json = new Option<bool>("--json") { Description = "Print a JSON object" };
        var command = new Command("create", "Create a durable consumer (idempotent; an existing one keeps its position)") { stream, name, ackTimeout, from, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var info = await client.CreateConsumerAsync(parse.GetValue(stream)!, parse.GetValue(name)!, TimeSpan.FromSeconds(parse.GetValue(ackTimeout)), Math.Max(parse.GetValue(from), 1), token).ConfigureAwait(false);
                await PrintAsync(console, [info], parse.GetValue(json), array: false).ConfigureAwait(false);
                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateList(CliConsole console, ConnectionOptions connection)
    {
        var stream = new Option<string?>("--stream") { Description = "Only this stream's consumers" };
        var json = new Option<bool>("--json") { Description = "Print a JSON array" };
        var command = new Command("list", "Consumers with their ack floor, pending entries and lag") { stream, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var consumers = await client.ListConsumersAsync(parse.GetValue(stream), token).ConfigureAwait(false);
                await PrintAsync(console, consumers, parse.GetValue(json), array: true).ConfigureAwait(false);
                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateInfo(CliConsole console, ConnectionOptions connection)
    {
        var stream = new Argument<string>("stream") { Description = "The consumer's stream" };
        var name = new Argument<string>("name") { Description = "Consumer name" };
        var json = new Option<bool>("--json") { Description = "Print a JSON object" };
        var command = new Command("info", "One consumer: ack floor, ack timeout, pending entries, redeliveries, lag") { stream, name, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var info = await client.GetConsumerInfoAsync(parse.GetValue(stream)!, parse.GetValue(name)!, token).ConfigureAwait(false);
                await PrintAsync(console, [info], parse.GetValue(json), array: false).ConfigureAwait(false);
                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateDelete(CliConsole console, ConnectionOptions connection)
    {
        var stream = new Argument<string>("stream") { Description = "The consumer's stream" };
        var name = new Argument<string>("name") { Description = "Consumer name" };
        var json = new Option<bool>("--json") { Description = "Print {\"deleted\": true}" };
        var command = new Command("delete", "Delete a consumer and its position") { stream, name, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                await client.DeleteConsumerAsync(parse.GetValue(stream)!, parse.GetValue(name)!, token).ConfigureAwait(false);
                await console.Out.WriteLineAsync(parse.GetValue(json) ? "{\"deleted\": true}" : $"deleted consumer {parse.GetValue(stream)}/{parse.GetValue(name)}").ConfigureAwait(false);
                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static async Task PrintAsync(CliConsole console, IReadOnlyList<ConsumerInfo> consumers, bool asJson, bool array)
    {
        if (!asJson)
        {
            var inv = CultureInfo.InvariantCulture;
            var table = new Table().AddColumns("stream", "consumer", "ack floor", "last seq", "lag", "pending", "redelivered", "ack timeout");
            foreach (var c in consumers)
            {
                table.AddRow(Markup.Escape(c.Stream), Markup.Escape(c.Name), c.AckFloor.ToString(inv), c.LastSequence.ToString(inv),
                    (c.LastSequence > c.AckFloor ? c.LastSequence - c.AckFloor : 0).ToString(inv), c.Pending.ToString(inv), c.Redeliveries.ToString(inv),
                    c.AckTimeout.TotalSeconds.ToString("0.###", inv) + " s");
            }

            console.Ansi.Write(table);
            return;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, EntryFormat.Indented))
        {
            if (array)
            {
                json.WriteStartArray();
            }

            foreach (var c in consumers)
            {
                json.WriteStartObject();
                json.WriteString("stream", c.Stream);
                json.WriteString("name", c.Name);
                json.WriteNumber("ackFloor", c.AckFloor);
                json.WriteNumber("lastSequence", c.LastSequence);
                json.WriteNumber("pending", c.Pending);
                json.WriteNumber("redeliveries", c.Redeliveries);
                json.WriteNumber("ackTimeoutMs", (ulong)c.AckTimeout.TotalMilliseconds);
                json.WriteEndObject();
            }

            if (array)
            {
                json.WriteEndArray();
            }
        }

        await console.Out.WriteLineAsync(Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length)).ConfigureAwait(false);
    }
}
