using System.Runtime.CompilerServices;
using BenchmarkDotNet.Attributes;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;
using WalrusGossip.Raft;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// <see cref="LogStore.AppendBatchAsync"/> of 1 KiB entries on the real file system, per write engine
/// (<see cref="IoEngine.Psync"/>, and <see cref="IoEngine.Uring"/> when io_uring is available; otherwise it is left
/// out of the parameters with a note on the console), per durability mode, and per batch size (entries per call).
/// One operation is one entry: each invocation appends <see cref="EntriesPerInvoke"/> entries in calls of
/// <see cref="BatchSize"/>, so Mean and Allocated are per appended entry whatever the batch size (a 64-entry call
/// costs 64 times the row). Under <see cref="DurabilityMode.Always"/> an append waits for its group commit's
/// fdatasync; under <see cref="DurabilityMode.Interval"/> and <see cref="DurabilityMode.None"/> it completes once
/// queued, so those rows are the caller's cost (copy and CRC into the group-commit batch) and do not include the
/// writer thread's disk time unless back-pressure engages.
/// <para>
/// One store per parameter combination lives for the whole run, in a temporary directory deleted at the end. Each
/// iteration appends a fixed <c>InvocationCount * EntriesPerInvoke</c> = 2,048 entries (about 2 MiB); before it
/// (not timed) the previous iteration's writes are drained and every sealed segment is deleted, so the disk holds a
/// few MiB at most. Segments are 4 MiB, so the timing includes a segment roll about every other iteration (under
/// <c>always</c> that starts zero-filling the next spare segment in the background); the default 64 MiB segments roll
/// 16 times less often. Run with
/// <c>dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*StorageAppendBenchmarks*'</c>
/// (add <c>--job short</c> for a quick look; the <c>Always</c>, batch-size-1 rows take seconds per iteration).
/// </para>
/// </summary>
[MemoryDiagnoser]
[InvocationCount(InvocationsPerIteration)]
public class StorageAppendBenchmarks
{
    private const int EntriesPerInvoke = 64;
    private const int InvocationsPerIteration = 32;
    private const int PayloadBytes = 1024;
    private const long SegmentBytes = 4L * 1024 * 1024;

    private readonly byte[] _payload = new byte[PayloadBytes];
    private string _directory = "";
    private FileSystemDevice _device = null!;
    private LogStore _store = null!;
    private LogEntry[] _batch = [];
    private ulong _next;

    /// <summary>Write engine of the file-system device.</summary>
    [ParamsSource(nameof(AvailableEngines))]
    public IoEngine Engine { get; set; }

    /// <summary>When an append completes (<see cref="DurabilityMode"/>; <c>Interval</c> is <c>interval:10</c>).</summary>
    [Params(DurabilityMode.Always, DurabilityMode.Interval, DurabilityMode.None)]
    public DurabilityMode Durability { get; set; }

    /// <summary>Entries per <see cref="LogStore.AppendBatchAsync"/> call; divides <see cref="EntriesPerInvoke"/>.</summary>
    [Params(1, 64)]
    public int BatchSize { get; set; }

    /// <summary>Psync always; Uring only when an io_uring instance can be created here.</summary>
    /// <returns>The engines to measure.</returns>
    public static IEnumerable<IoEngine> AvailableEngines()
    {
        yield return IoEngine.Psync;
        string? unavailable = null;
        try
        {
            using var probe = FileSystemDevice.Create(IoEngine.Uring);
        }
        catch (StorageConfigurationException e)
        {
            unavailable = e.Message;
        }

        if (unavailable is null)
        {
            yield return IoEngine.Uring;
        }
        else
        {
            Console.WriteLine($"// StorageAppendBenchmarks: skipping IoEngine.Uring: {unavailable}");
        }
    }

    [GlobalSetup]
    public void Setup()
    {
        if (EntriesPerInvoke % BatchSize != 0)
        {
            throw new InvalidOperationException($"BatchSize {BatchSize} must divide {EntriesPerInvoke}");
        }

        new Random(1).NextBytes(_payload);
        _batch = new LogEntry[BatchSize];
        _directory = Path.Combine(Path.GetTempPath(), "walrus-bench-append-" + Guid.NewGuid().ToString("N"));
        _device = FileSystemDevice.Create(Engine);
        var options = new StorageOptions
        {
            MaxSegmentBytes = SegmentBytes,
            MaxEntryBytes = 64 * 1024,
            Durability = Durability switch
            {
                DurabilityMode.Always => DurabilityPolicy.Always,
                DurabilityMode.Interval => DurabilityPolicy.Every(TimeSpan.FromMilliseconds(10)),
                _ => DurabilityPolicy.None,
            },
            IoEngine = Engine,
        };
        _store = LogStore.Open(_device, _directory, options);
        _next = _store.LastIndex + 1;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _store.Dispose();
        _device.Dispose();
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>
    /// Not timed: waits for the previous iteration's queued writes and deletes every sealed segment, so the disk holds
    /// at most the open segment and the spare.
    /// </summary>
    [IterationSetup]
    public void DropSealedSegments() => _store.TruncatePrefix(_next);

    /// <summary>
    /// Appends <see cref="EntriesPerInvoke"/> entries in calls of <see cref="BatchSize"/>, awaiting each call.
    /// The pooling builder keeps this method's own state machine out of the Allocated column.
    /// </summary>
    /// <returns>The last index appended.</returns>
    [Benchmark(OperationsPerInvoke = EntriesPerInvoke)]
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ulong> AppendBatch()
    {
        var last = 0UL;
        for (var appended = 0; appended < EntriesPerInvoke; appended += _batch.Length)
        {
            for (var i = 0; i < _batch.Length; i++)
            {
                _batch[i] = new LogEntry(_next++, 1, EntryType.Normal, _payload);
            }

            last = await _store.AppendBatchAsync(_batch).ConfigureAwait(false);
        }

        return last;
    }
}
