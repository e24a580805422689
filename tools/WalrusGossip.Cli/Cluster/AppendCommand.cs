using System.CommandLine;
using System.Globalization;
using System.Text;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary><c>walrusctl append [TEXT ...] | --stdin</c>: append entries and print the committed index of each.</summary>
internal static class AppendCommand
{
    /// <summary>Largest batch of stdin lines sent in one request, in payload bytes.</summary>
    private const int MaxBatchBytes = 1024 * 1024;

    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var texts = new Argument<string[]>("TEXT") { Description = "Entries to append, one per argument (UTF-8)", Arity = ArgumentArity.ZeroOrMore };
        var stdin = new Option<bool>("--stdin") { Description = "Append one entry per line of standard input (bytes as they are, without the line terminator)" };
        var stream = new Option<string?>("--stream") { Description = "Stream name for the entries" };
        var batchSize = new Option<int>("--batch-size")
        {
            // The cluster remembers the 1,024 most recent sequences per client: a retried batch larger than that could be refused as expired.
            Description = "Lines per request with --stdin (1 to 10000; above 1024 a retried batch may be refused as an expired session)",
            DefaultValueFactory = _ => 256,
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per entry and line: index, term, streamSequence (0 without a stream)" };
        var command = new Command("append", "Append entries; prints the committed index of each, one per line") { texts, stdin, stream, batchSize, json };
        command.SetAction((parse, ct) =>
        {
            var args = parse.GetValue(texts) ?? [];
            var fromStdin = parse.GetValue(stdin);
            var streamName = parse.GetValue(stream);
            var batch = parse.GetValue(batchSize);
            var asJson = parse.GetValue(json);
            return ClusterCommand.RunAsync(
                console,
                () =>
                {
                    if (fromStdin == (args.Length > 0))
                    {
                        throw new ArgumentException("give either TEXT arguments or --stdin");
                    }

                    if (batch is < 1 or > 10_000)
                    {
                        throw new ArgumentException("--batch-size must be from 1 to 10000");
                    }

                    return connection.Resolve(parse);
                },
                (client, token) => fromStdin
                    ? AppendLinesAsync(client, console, streamName, batch, asJson, token)
                    : AppendArgumentsAsync(client, console, args, streamName, asJson, token),
                ct);
        });
        return command;
    }

    private static async Task<int> AppendArgumentsAsync(WalrusClient client, CliConsole console, string[] texts, string? stream, bool json, CancellationToken cancellationToken)
    {
        foreach (var text in texts)
        {
            var result = await client.AppendAsync(Encoding.UTF8.GetBytes(text), stream, cancellationToken).ConfigureAwait(false);
            await console.Out.WriteLineAsync(Format(result, json)).ConfigureAwait(false);
        }

        return CliRunner.Ok;
    }

    /// <summary>Reads lines and appends them in order, in batches, printing each index as its batch commits.</summary>
    private static async Task<int> AppendLinesAsync(WalrusClient client, CliConsole console, string? stream, int batchSize, bool json, CancellationToken cancellationToken)
    {
        var reader = new LineReader(console.OpenStdin());
        var batch = new List<(string? Stream, ReadOnlyMemory<byte> Payload)>(batchSize);
        var batchBytes = 0;
        while (true)
        {
            var line = await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false);
            if (line is not null)
            {
                batch.Add((stream, line));
                batchBytes += line.Length;
            }

            var flush = batch.Count > 0 && (line is null || batch.Count >= batchSize || batchBytes >= MaxBatchBytes);
            if (flush)
            {
                IReadOnlyList<AppendResult> results = batch.Count == 1
                    ? [await client.AppendAsync(batch[0].Payload, stream, cancellationToken).ConfigureAwait(false)]
                    : await client.AppendBatchAsync(batch, cancellationToken).ConfigureAwait(false);
                var output = new StringBuilder();
                foreach (var result in results)
                {
                    output.Append(Format(result, json)).Append('\n');
                }

                await console.Out.WriteAsync(output.ToString()).ConfigureAwait(false);
                batch.Clear();
                batchBytes = 0;
            }

            if (line is null)
            {
                return CliRunner.Ok;
            }
        }
    }

    /// <summary>The index alone, or <c>{"index":I,"term":T,"streamSequence":S}</c>.</summary>
    private static string Format(AppendResult result, bool json) => json
        ? string.Create(CultureInfo.InvariantCulture, $"{{\"index\":{result.Index},\"term\":{result.Term},\"streamSequence\":{result.StreamSequence}}}")
        : result.Index.ToString(CultureInfo.InvariantCulture);
}
