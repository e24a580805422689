using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Storage;

namespace WalrusGossip.Cli;

/// <summary><c>walrusctl store verify | dump</c>: offline inspection of a data directory. Never writes to it.</summary>
internal static class StoreCommands
{
    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase, WriteIndented = true };

    public static Command Create()
    {
        var store = new Command("store", "Inspect a data directory offline (the agent must not be running on it for dump to be exact)");
        store.Subcommands.Add(CreateVerify());
        store.Subcommands.Add(CreateDump());
        return store;
    }

    private static Option<string> DataDir() => new("--data-dir") { Description = "The agent's data directory", Required = true };

    private static Command CreateVerify()
    {
        var dataDir = DataDir();
        var json = new Option<bool>("--json") { Description = "Print one JSON object instead of text" };
        var command = new Command("verify", "Check every record's CRC-32C, the segment sequence, index files, checkpoints and hard state. Exit 0 intact (a torn tail is reported but intact), 1 corruption, 2 usage or I/O error") { dataDir, json };
        command.SetAction((parse, _) => CliRunner.Guard(() => Task.FromResult(Verify(parse.GetValue(dataDir)!, parse.GetValue(json)))));
        return command;
    }

    internal static int Verify(string dataDir, bool json)
    {
        var report = StoreVerifier.Verify(dataDir);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                dataDir,
                intact = report.Intact,
                firstIndex = report.FirstIndex,
                lastIndex = report.LastIndex,
                segments = report.SegmentCount,
                bytes = report.DataBytes,
                tornTailBytes = report.TornTailBytes,
                corruptRecords = report.Corruptions.Select(c => new { file = c.FilePath, offset = c.Offset, index = c.Index, reason = c.Reason }),
                problems = report.Problems,
                notes = report.Notes,
            }, Json));
        }
        else
        {
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"data dir     {dataDir}"));
            Console.WriteLine(string.Create(inv, $"first index  {report.FirstIndex}"));
            Console.WriteLine(string.Create(inv, $"last index   {report.LastIndex}"));
            Console.WriteLine(string.Create(inv, $"segments     {report.SegmentCount}"));
            Console.WriteLine(string.Create(inv, $"bytes        {report.DataBytes}"));
            Console.WriteLine(string.Create(inv, $"torn tail    {report.TornTailBytes} bytes{(report.TornTailBytes > 0 ? " (incomplete last write; truncated on next open)" : string.Empty)}"));
            foreach (var c in report.Corruptions)
            {
                Console.WriteLine(string.Create(inv, $"CORRUPT      {c.FilePath} offset {c.Offset} index {c.Index}: {c.Reason}"));
            }

            foreach (var p in report.Problems)
            {
                Console.WriteLine("PROBLEM      " + p);
            }

            foreach (var n in report.Notes)
            {
                Console.WriteLine("note         " + n);
            }

            Console.WriteLine(report.Intact ? "result       intact" : "result       CORRUPT");
        }

        return report.Intact ? CliRunner.Ok : CliRunner.Unhealthy;
    }

    private static Command CreateDump()
    {
        var dataDir = DataDir();
        var from = new Option<ulong>("--from") { Description = "First index to print (default: the first in the log)" };
        var count = new Option<int>("--count") { Description = "Most records to print", DefaultValueFactory = _ => 100 };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per line" };
        var command = new Command("dump", "Print records: index, term, type, length, whether the CRC verifies, payload preview") { dataDir, from, count, json };
        command.SetAction((parse, _) => CliRunner.Guard(() => Task.FromResult(Dump(parse.GetValue(dataDir)!, parse.GetValue(from), parse.GetValue(count), parse.GetValue(json)))));
        return command;
    }

    internal static int Dump(string dataDir, ulong from, int count, bool json)
    {
        if (count < 1)
        {
            throw new ArgumentException("--count must be at least 1");
        }

        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("index", "term", "type", "length", "crc", "payload");
        foreach (var r in StoreVerifier.Dump(dataDir, from, count))
        {
            var text = r.CrcOk ? Preview(r.Preview) : r.Problem ?? "corrupt";
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { index = r.Index, term = r.Term, type = r.CrcOk ? r.Type.ToString() : "?", length = r.PayloadLength, crcOk = r.CrcOk, payload = text }));
            }
            else
            {
                table.AddRow(r.Index.ToString(inv), r.Term.ToString(inv), r.CrcOk ? r.Type.ToString() : "?",
                    r.PayloadLength.ToString(inv), r.CrcOk ? "ok" : "[red]BAD[/]", Markup.Escape(text));
            }
        }

        if (!json)
        {
            AnsiConsole.Write(table);
        }

        return CliRunner.Ok;
    }

    private static string Preview(byte[] bytes)
    {
        var printable = bytes.All(b => b is >= 0x20 and < 0x7F);
        return printable ? Encoding.ASCII.GetString(bytes) : Convert.ToHexString(bytes).ToLowerInvariant();
    }
}
