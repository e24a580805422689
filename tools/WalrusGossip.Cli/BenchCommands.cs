using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using WalrusGossip.Client.Diagnostics;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Cli;

/// <summary><c>walrusctl bench store</c>: the storage append benchmark.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var bench = new Command("bench", "Benchmarks");
        bench.Subcommands.Add(CreateStore());
        bench.Subcommands.Add(CreateReopen());
        return bench;
    }

    private static Command CreateReopen()
    {
        var dataDir = new Option<string>("--data-dir") { Description = "An existing data directory (e.g. one left by 'bench store --data-dir')", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("reopen",
            "Time opening an existing store: the open segment, and any sealed segment without a consistent index file, are scanned with CRC checks; " +
            "other sealed segments are loaded from their index files (first and last record verified). Reports what was scanned and what was trusted. " +
            "'store verify' scans everything") { dataDir, json };
        command.SetAction((parse, _) => CliRunner.Guard(() =>
        {
            var dir = parse.GetValue(dataDir)!;
            if (!Directory.Exists(Path.Combine(dir, "log")))
            {
                throw new DirectoryNotFoundException($"{dir} is not a WalrusGossip data directory");
            }

            var clock = Stopwatch.StartNew();
            using var storage = NodeStorage.Open(dir, new StorageOptions { IoEngine = IoEngine.Psync, Durability = DurabilityPolicy.None });
            var seconds = clock.Elapsed.TotalSeconds;
            var inv = CultureInfo.InvariantCulture;
            var log = storage.Log;
            var result = new
            {
                seconds = Math.Round(seconds, 3),
                records = log.LastIndex - log.FirstIndex + 1,
                bytes = log.DataBytes,
                segments = log.SegmentCount,
                recordsScanned = log.RecoveredRecordsScanned,
                recordsTrusted = log.RecoveredRecordsTrusted,
                segmentsScanned = log.SegmentsScanned,
                segmentsTrusted = log.SegmentsTrusted,
            };
            Console.WriteLine(parse.GetValue(json)
                ? JsonSerializer.Serialize(result)
                : string.Create(inv, $"opened {result.records} records, {result.bytes} bytes in {result.segments} segments in {result.seconds:F3} s; " +
                    $"scanned {result.recordsScanned} records in {result.segmentsScanned} segments, trusted {result.recordsTrusted} records in {result.segmentsTrusted} sealed segments from their index files"));
            return Task.FromResult(CliRunner.Ok);
        }));
        return command;
    }

    private static Command CreateStore()
    {
        var dataDir = new Option<string?>("--data-dir") { Description = "Directory for the benchmark store (must be empty or absent); default: a temporary directory, deleted afterwards" };
        var records = new Option<int>("--records") { Description = "Appends to perform", DefaultValueFactory = _ => 200_000 };
        var payload = new Option<int>("--payload") { Description = "Payload bytes per append", DefaultValueFactory = _ => 1024 };
        var writers = new Option<int>("--writers") { Description = "Concurrent appenders", DefaultValueFactory = _ => 1 };
        var fsync = new Option<string>("--fsync") { Description = "always | interval:MS | none", DefaultValueFactory = _ => "always" };
        var engine = new Option<string>("--engine") { Description = "auto | uring | psync", DefaultValueFactory = _ => "auto" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (no progress bar)" };
        var command = new Command("store", "Append benchmark of the local log store") { dataDir, records, payload, writers, fsync, engine, json };
        command.SetAction((parse, ct) => CliRunner.Guard(async () =>
        {
            var settings = new StoreBenchSettings(
                parse.GetValue(dataDir),
                parse.GetValue(records),
                parse.GetValue(payload),
                parse.GetValue(writers),
                DurabilityPolicy.Parse(parse.GetValue(fsync)!),
                ParseEngine(parse.GetValue(engine)!));
            var result = await StoreBench.RunAsync(settings, showProgress: !parse.GetValue(json), ct).ConfigureAwait(false);
            Print(result, parse.GetValue(json));
            return CliRunner.Ok;
        }));
        return command;
    }

    private static IoEngine ParseEngine(string text) => text.ToLowerInvariant() switch
    {
        "auto" => IoEngine.Auto,
        "uring" => IoEngine.Uring,
        "psync" => IoEngine.Psync,
        _ => throw new ArgumentException($"--engine must be auto, uring or psync, got '{text}'"),
    };

    private static void Print(StoreBenchResult r, bool json)
    {
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(r, new JsonSerializerOptions { PropertyNamingPolicy = JsonNamingPolicy.CamelCase }));
            return;
        }

        var inv = CultureInfo.InvariantCulture;
        var table = new Table().AddColumns("engine", "fsync", "writers", "payload B", "records", "seconds", "appends/s", "MB/s", "p50 µs", "p99 µs", "p99.9 µs", "alloc B/append");
        table.AddRow(r.Engine, r.Fsync, r.Writers.ToString(inv), r.PayloadBytes.ToString(inv), r.Records.ToString(inv),
            r.Seconds.ToString("F2", inv), r.AppendsPerSec.ToString("N0", inv), r.MbPerSec.ToString("F1", inv),
            r.P50Us.ToString("F1", inv), r.P99Us.ToString("F1", inv), r.P999Us.ToString("F1", inv), r.AllocBytesPerAppend.ToString("F1", inv));
        AnsiConsole.Write(table);
    }
}

/// <summary>Inputs of one storage benchmark run.</summary>
internal sealed record StoreBenchSettings(string? DataDir, int Records, int PayloadBytes, int Writers, DurabilityPolicy Fsync, IoEngine Engine);

/// <summary>The JSON shape of <c>walrusctl bench store --json</c>; field names are part of the tool's contract.</summary>
internal sealed record StoreBenchResult(
    string Engine,
    string Fsync,
    int Writers,
    int PayloadBytes,
    int Records,
    double Seconds,
    double AppendsPerSec,
    double MbPerSec,
    double P50Us,
    double P99Us,
    double P999Us,
    double AllocBytesPerAppend);

/// <summary>Runs W concurrent appenders until N appends complete, timing each from call to completion.</summary>
internal static class StoreBench
{
    public static async Task<StoreBenchResult> RunAsync(StoreBenchSettings s, bool showProgress, CancellationToken cancellationToken)
    {
        if (s.Records < 1 || s.Writers < 1 || s.PayloadBytes < 0)
        {
            throw new ArgumentException("--records and --writers must be at least 1, --payload at least 0");
        }

        var ownsDir = s.DataDir is null;
        var dir = s.DataDir ?? Path.Combine(Path.GetTempPath(), "walrus-bench-" + Guid.NewGuid().ToString("N"));
        if (!ownsDir && Directory.Exists(dir) && Directory.EnumerateFileSystemEntries(dir).Any())
        {
            throw new ArgumentException($"--data-dir {dir} is not empty; the benchmark needs an empty directory");
        }

        var options = new StorageOptions { Durability = s.Fsync, IoEngine = s.Engine, MaxEntryBytes = Math.Max(s.PayloadBytes, 1024) };
        try
        {
            using var storage = NodeStorage.Open(dir, options);
            var log = storage.Log;
            var engineName = storage.EngineName;
            var payload = new byte[s.PayloadBytes];
            Random.Shared.NextBytes(payload);
            var warmup = Math.Min(s.Records / 10, 20_000);
            var issued = 0L;
            var completed = 0L;
            var histograms = new LatencyHistogram[s.Writers];
            long allocStart = 0;
            long measureStart = 0;
            var startGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            async Task Writer(int w)
            {
                var histogram = histograms[w] = new LatencyHistogram();
                while (Interlocked.Increment(ref issued) <= s.Records)
                {
                    var t0 = Stopwatch.GetTimestamp();
                    await log.AppendAsync(payload, term: 1, cancellationToken: cancellationToken).ConfigureAwait(false);
                    var n = Interlocked.Increment(ref completed);
                    if (n > warmup)
                    {
                        histogram.Record(Stopwatch.GetTimestamp() - t0);
                    }

                    if (n == warmup)
                    {
                        allocStart = GC.GetTotalAllocatedBytes(precise: true);
                        measureStart = Stopwatch.GetTimestamp();
                    }
                }
            }

            if (warmup == 0)
            {
                allocStart = GC.GetTotalAllocatedBytes(precise: true);
                measureStart = Stopwatch.GetTimestamp();
            }

            var tasks = new Task[s.Writers];
            for (var w = 0; w < s.Writers; w++)
            {
                var id = w;
                tasks[w] = Task.Run(() => Writer(id), cancellationToken);
            }

            var all = Task.WhenAll(tasks);
            if (showProgress && s.Records >= 50_000)
            {
                await AnsiConsole.Progress().AutoClear(true).StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("appending", maxValue: s.Records);
                    while (!all.IsCompleted)
                    {
                        await Task.WhenAny(all, Task.Delay(200, cancellationToken)).ConfigureAwait(false);
                        task.Value = Interlocked.Read(ref completed);
                    }
                }).ConfigureAwait(false);
            }

            await all.ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(measureStart);
            var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocStart;
            var merged = new LatencyHistogram();
            foreach (var h in histograms)
            {
                merged.Merge(h);
            }

            var measured = s.Records - warmup;
            var ticksToUs = 1_000_000.0 / Stopwatch.Frequency;
            return new StoreBenchResult(
                engineName,
                s.Fsync.ToString(),
                s.Writers,
                s.PayloadBytes,
                s.Records,
                Math.Round(elapsed.TotalSeconds, 3),
                Math.Round(measured / elapsed.TotalSeconds, 1),
                Math.Round(measured * (double)(s.PayloadBytes + 32) / elapsed.TotalSeconds / 1e6, 2),
                Math.Round(merged.ValueAt(0.50) * ticksToUs, 1),
                Math.Round(merged.ValueAt(0.99) * ticksToUs, 1),
                Math.Round(merged.ValueAt(0.999) * ticksToUs, 1),
                Math.Round((double)allocated / measured, 1));
        }
        finally
        {
            if (ownsDir)
            {
                try
                {
                    Directory.Delete(dir, recursive: true);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
