using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl stream list|info|read|tail</c>: streams by their own sequence numbers (issue 19).</summary>
internal static class StreamCommands
{
    private const int EntriesPerRequest = 1000;

    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var command = new Command("stream", "Streams: list them, show one, read or tail it by stream sequence");
        command.Subcommands.Add(CreateList(console, connection));
        command.Subcommands.Add(CreateInfo(console, connection));
        command.Subcommands.Add(CreateRead(console, connection));
        command.Subcommands.Add(CreateTail(console, connection));
        return command;
    }

    private static Command CreateList(CliConsole console, ConnectionOptions connection)
    {
        var json = new Option<bool>("--json") { Description = "Print a JSON array of stream objects" };
        var command = new Command("list", "Every stream you may read: sequences, entries, bytes, log indexes") { json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var streams = await client.ListStreamsAsync(cancellationToken: token).ConfigureAwait(false);
                await PrintAsync(console, streams, parse.GetValue(json)).ConfigureAwait(false);
                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateInfo(CliConsole console, ConnectionOptions connection)
    {
        var name = new Argument<string>("stream") { Description = "Stream name" };
        var json = new Option<bool>("--json") { Description = "Print a JSON object" };
        var command = new Command("info", "One stream: first and last sequence, retained entries and bytes, first and last log index") { name, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var info = await client.GetStreamInfoAsync(parse.GetValue(name)!, cancellationToken: token).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(ToJson([info], array: false)).ConfigureAwait(false);
                }
                else
                {
                    await PrintAsync(console, [info], asJson: false).ConfigureAwait(false);
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateRead(CliConsole console, ConnectionOptions connection)
    {
        var name = new Argument<string>("stream") { Description = "Stream name" };
        var from = new Option<ulong>("--from") { Description = "First stream sequence (from 1)", DefaultValueFactory = _ => 1 };
        var count = new Option<int>("--count") { Description = "Most entries to read", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {index, term, stream, streamSequence, payload (base64), payloadText}" };
        var stale = new Option<bool>("--stale") { Description = "Read from the answering agent's replica without a linearizable barrier" };
        var command = new Command("read", "Read a stream's entries from a stream sequence on") { name, from, count, json, stale };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => parse.GetValue(from) == 0 ? throw new ArgumentException("--from must be at least 1")
                : parse.GetValue(count) < 1 ? throw new ArgumentException("--count must be at least 1")
                : connection.Resolve(parse),
            async (client, token) =>
            {
                var consistency = parse.GetValue(stale) ? Consistency.Stale : Consistency.Linearizable;
                var entries = new List<LogEntry>();
                var next = parse.GetValue(from);
                var wanted = parse.GetValue(count);
                while (entries.Count < wanted)
                {
                    var batch = await client.ReadStreamAsync(parse.GetValue(name)!, next, Math.Min(wanted - entries.Count, EntriesPerRequest), consistency, token).ConfigureAwait(false);
                    if (batch.Count == 0)
                    {
                        break;
                    }

                    entries.AddRange(batch);
                    next = batch[^1].StreamSequence + 1;
                }

                if (parse.GetValue(json))
                {
                    await console.Out.WriteLineAsync(ReadCommands.ToJsonArray(entries)).ConfigureAwait(false);
                }
                else
                {
                    var inv = CultureInfo.InvariantCulture;
                    var table = new Table().AddColumns("sequence", "index", "term", "bytes", "payload");
                    foreach (var e in entries)
                    {
                        table.AddRow(e.StreamSequence.ToString(inv), e.Index.ToString(inv), e.Term.ToString(inv), e.Payload.Length.ToString(inv), Markup.Escape(EntryFormat.Preview(e.Payload.Span, 80)));
                    }

                    console.Ansi.Write(table);
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static Command CreateTail(CliConsole console, ConnectionOptions connection)
    {
        var name = new Argument<string>("stream") { Description = "Stream name" };
        var from = new Option<ulong?>("--from") { Description = "First stream sequence to print (default: the stream's next entry)" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line" };
        var command = new Command("tail", "Follow a stream's new entries as they commit, until Ctrl+C: sequence, index, term, payload") { name, from, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => parse.GetValue(from) == 0 ? throw new ArgumentException("--from must be at least 1") : connection.Resolve(parse),
            async (client, token) =>
            {
                var stream = parse.GetValue(name)!;
                var start = parse.GetValue(from);
                if (start is null)
                {
                    try
                    {
                        start = (await client.GetStreamInfoAsync(stream, cancellationToken: token).ConfigureAwait(false)).LastSequence + 1;
                    }
                    catch (WalrusNotFoundException)
                    {
                        start = 1; // a stream that has no entry yet: its first one
                    }
                }

                try
                {
                    await foreach (var entry in client.TailStreamAsync(stream, start.Value, token).ConfigureAwait(false))
                    {
                        await console.Out.WriteLineAsync(parse.GetValue(json)
                            ? EntryFormat.ToJsonLine(entry)
                            : string.Create(CultureInfo.InvariantCulture, $"{entry.StreamSequence}\t{entry.Index}\t{entry.Term}\t{EntryFormat.Preview(entry.Payload.Span, 1000)}")).ConfigureAwait(false);
                        await console.Out.FlushAsync(token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    // Ctrl+C ends a tail normally.
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    private static async Task PrintAsync(CliConsole console, IReadOnlyList<StreamInfo> streams, bool asJson)
    {
        if (asJson)
        {
            await console.Out.WriteLineAsync(ToJson(streams, array: true)).ConfigureAwait(false);
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("stream", "first seq", "last seq", "entries", "bytes", "first index", "last index");
        foreach (var s in streams)
        {
            table.AddRow(Markup.Escape(s.Name), s.FirstSequence.ToString(inv), s.LastSequence.ToString(inv), s.Entries.ToString(inv), s.Bytes.ToString(inv), s.FirstIndex.ToString(inv), s.LastIndex.ToString(inv));
        }

        console.Ansi.Write(table);
    }

    private static string ToJson(IReadOnlyList<StreamInfo> streams, bool array)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, EntryFormat.Indented))
        {
            if (array)
            {
                json.WriteStartArray();
            }

            foreach (var s in streams)
            {
                json.WriteStartObject();
                json.WriteString("name", s.Name);
                json.WriteNumber("firstSequence", s.FirstSequence);
                json.WriteNumber("lastSequence", s.LastSequence);
                json.WriteNumber("entries", s.Entries);
                json.WriteNumber("bytes", s.Bytes);
                json.WriteNumber("firstIndex", s.FirstIndex);
                json.WriteNumber("lastIndex", s.LastIndex);
                json.WriteEndObject();
            }

            if (array)
            {
                json.WriteEndArray();
            }
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }
}
