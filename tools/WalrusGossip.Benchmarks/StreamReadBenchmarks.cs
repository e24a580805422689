using BenchmarkDotNet.Attributes;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// Issue 19: reading 1,000 entries of one stream from the middle of a log of 20,000 or 2,000,000 entries spread
/// round-robin over 10 streams, through the stream index (<see cref="CommittedLog.ReadStream"/>). The cost should not
/// depend on the log's length: the 2 M row within 2x of the 20 k row. Entries of 128 bytes on the real file system
/// (page cache warm after the setup); the setup appends without fsync and applies every entry to a state machine.
/// <c>dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*StreamReadBenchmarks*'</c>
/// </summary>
[MemoryDiagnoser]
[SimpleJob(launchCount: 1, warmupCount: 3, iterationCount: 15)]
public class StreamReadBenchmarks
{
    private const int Streams = 10;
    private const int ReadCount = 1_000;

    private readonly List<CommittedEntry> _into = new(ReadCount);
    private string _directory = null!;
    private FileSystemDevice _device = null!;
    private LogStore _store = null!;
    private CommittedLog _view = null!;
    private ulong _from;

    /// <summary>Entries in the log.</summary>
    [Params(20_000, 2_000_000)]
    public int LogEntries { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _directory = Path.Combine(Path.GetTempPath(), "walrus-bench-streams-" + Guid.NewGuid().ToString("N"));
        _device = FileSystemDevice.Create(IoEngine.Psync);
        _store = LogStore.Open(_device, _directory, new StorageOptions { Durability = DurabilityPolicy.None, MaxEntryBytes = 64 * 1024 });
        var machine = new LogStateMachine();
        var data = new byte[128];
        var batch = new List<LogEntry>(1_000);
        for (var i = 0; i < LogEntries;)
        {
            batch.Clear();
            for (var n = 0; n < 1_000 && i < LogEntries; n++, i++)
            {
                var entry = new LogEntry((ulong)i + 1, 1, EntryType.Normal, AppendCommand.Encode(0, 0, "s" + (i % Streams), data));
                batch.Add(entry);
                machine.Apply(entry);
            }

            _store.AppendBatchAsync(batch).AsTask().GetAwaiter().GetResult();
        }

        _store.Flush();
        _view = CommittedLog.Over(_store, machine);
        _from = (ulong)(LogEntries / Streams / 2); // the middle of stream s3
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _device.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>1,000 entries of stream s3 from the middle of the stream.</summary>
    /// <returns>The next sequence.</returns>
    [Benchmark]
    public ulong ReadOneStreamFromTheMiddle()
    {
        _into.Clear();
        return _view.ReadStream("s3", _from, ReadCount, long.MaxValue, _into);
    }
}
