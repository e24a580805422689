using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl read</c> and <c>walrusctl tail</c>.</summary>
internal static class ReadCommands
{
    /// <summary>Most entries asked for per read request; larger counts take several requests.</summary>
    private const int EntriesPerRequest = 1000;

    private const int PreviewChars = 80;

    public static Command CreateRead(CliConsole console, ConnectionOptions connection)
    {
        var from = new Option<ulong>("--from") { Description = "First index to read (from 1)", Required = true };
        var count = new Option<int>("--count") { Description = "Most entries to read", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print a JSON array of {index, term, stream, payload (base64), payloadText}" };
        var stale = new Option<bool>("--stale") { Description = "Read from the answering agent's replica without a linearizable barrier" };
        var stream = new Option<string?>("--stream") { Description = "Only entries of this stream" };
        var command = new Command("read", "Read committed entries from an index on") { from, count, json, stale, stream };
        command.SetAction((parse, ct) =>
        {
            var fromIndex = parse.GetValue(from);
            var maxCount = parse.GetValue(count);
            return ClusterCommand.RunAsync(
                console,
                () =>
                {
                    if (fromIndex == 0)
                    {
                        throw new ArgumentException("--from must be at least 1");
                    }

                    if (maxCount < 1)
                    {
                        throw new ArgumentException("--count must be at least 1");
                    }

                    return connection.Resolve(parse);
                },
                async (client, token) =>
                {
                    var consistency = parse.GetValue(stale) ? Consistency.Stale : Consistency.Linearizable;
                    var entries = await ReadAsync(client, fromIndex, maxCount, consistency, parse.GetValue(stream), token).ConfigureAwait(false);
                    if (parse.GetValue(json))
                    {
                        await console.Out.WriteLineAsync(ToJsonArray(entries)).ConfigureAwait(false);
                    }
                    else
                    {
                        console.Ansi.Write(ToTable(entries));
                    }

                    return CliRunner.Ok;
                },
                ct);
        });
        return command;
    }

    public static Command CreateTail(CliConsole console, ConnectionOptions connection)
    {
        var from = new Option<ulong?>("--from") { Description = "First index to print (default: the last 10 committed entries)" };
        var follow = new Option<bool>("--follow", "-f") { Description = "Keep printing new entries as they commit, until Ctrl+C" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line" };
        var stream = new Option<string?>("--stream") { Description = "Only entries of this stream" };
        var command = new Command("tail", "Print the latest entries, and with -f follow new ones: index, term, stream, payload") { from, follow, json, stream };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => parse.GetValue(from) == 0 ? throw new ArgumentException("--from must be at least 1") : connection.Resolve(parse),
            async (client, token) =>
            {
                var asJson = parse.GetValue(json);
                var streamName = parse.GetValue(stream);
                var start = parse.GetValue(from) ?? await LastEntriesStartAsync(client, 10, token).ConfigureAwait(false);
                if (!parse.GetValue(follow))
                {
                    foreach (var entry in await ReadAsync(client, start, int.MaxValue, Consistency.Linearizable, streamName, token).ConfigureAwait(false))
                    {
                        await console.Out.WriteLineAsync(TailLine(entry, asJson)).ConfigureAwait(false);
                    }

                    return CliRunner.Ok;
                }

                try
                {
                    await foreach (var entry in client.TailAsync(start, streamName, token).ConfigureAwait(false))
                    {
                        await console.Out.WriteLineAsync(TailLine(entry, asJson)).ConfigureAwait(false);
                        await console.Out.FlushAsync(token).ConfigureAwait(false);
                    }
                }
                catch (OperationCanceledException) when (token.IsCancellationRequested)
                {
                    // Ctrl+C ends a follow normally.
                }

                return CliRunner.Ok;
            },
            ct));
        return command;
    }

    /// <summary>Reads up to <paramref name="maxCount"/> entries from <paramref name="fromIndex"/>, in as many requests as needed.</summary>
    internal static async Task<List<LogEntry>> ReadAsync(WalrusClient client, ulong fromIndex, int maxCount, Consistency consistency, string? stream, CancellationToken cancellationToken)
    {
        var entries = new List<LogEntry>(Math.Min(maxCount, EntriesPerRequest));
        var next = fromIndex;
        while (entries.Count < maxCount)
        {
            var want = Math.Min(maxCount - entries.Count, EntriesPerRequest);
            var result = await client.ReadRangeAsync(next, want, 0, consistency, stream, cancellationToken).ConfigureAwait(false);
            if (result.Entries.Count == 0)
            {
                break;
            }

            entries.AddRange(result.Entries.Take(want));
            next = result.Entries[^1].Index + 1;
        }

        return entries;
    }

    private static async Task<ulong> LastEntriesStartAsync(WalrusClient client, ulong count, CancellationToken cancellationToken)
    {
        var status = await client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
        var first = Math.Max(status.FirstIndex, 1);
        return status.CommitIndex >= first + count ? status.CommitIndex - count + 1 : first;
    }

    internal static string ToJsonArray(IReadOnlyList<LogEntry> entries)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, EntryFormat.Indented))
        {
            json.WriteStartArray();
            foreach (var entry in entries)
            {
                EntryFormat.Write(json, entry);
            }

            json.WriteEndArray();
        }

        return Encoding.UTF8.GetString(buffer.GetBuffer(), 0, (int)buffer.Length);
    }

    private static Table ToTable(IReadOnlyList<LogEntry> entries)
    {
        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("index", "term", "stream", "bytes", "payload");
        foreach (var e in entries)
        {
            table.AddRow(
                e.Index.ToString(inv),
                e.Term.ToString(inv),
                Markup.Escape(e.Stream ?? string.Empty),
                e.Payload.Length.ToString(inv),
                Markup.Escape(EntryFormat.Preview(e.Payload.Span, PreviewChars)));
        }

        return table;
    }

    private static string TailLine(LogEntry entry, bool json) =>
        json
            ? EntryFormat.ToJsonLine(entry)
            : string.Create(CultureInfo.InvariantCulture, $"{entry.Index}\t{entry.Term}\t{entry.Stream ?? "-"}\t{EntryFormat.Preview(entry.Payload.Span, 1000)}");
}
