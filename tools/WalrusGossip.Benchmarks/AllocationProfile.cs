using System.Diagnostics.Tracing;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// Which types the append path allocates: runs <see cref="NodeAppendBenchmarks.AppendCommitApply"/> for a while under
/// an <see cref="EventListener"/> on the runtime's GC AllocationTick events (one sample per ~100 KB allocated, naming
/// the type of the object that crossed the threshold) and prints the types by sampled bytes.
/// Run: <c>dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- alloc-profile [appends]</c>.
/// </summary>
internal static class AllocationProfile
{
    public static void Run(int appends, int appendsPerBatch)
    {
        var bench = new NodeAppendBenchmarks { AppendsPerBatch = appendsPerBatch };
        bench.Setup();
        for (var i = 0; i < 200; i++)
        {
            bench.AppendCommitApply(); // warm up: JIT, pools, dictionaries at their working size
        }

        using var listener = new AllocationListener();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        var batches = Math.Max(1, appends / 256);
        for (var i = 0; i < batches; i++)
        {
            bench.AppendCommitApply();
        }

        var total = GC.GetTotalAllocatedBytes(precise: true) - before;
        listener.Dispose();
        bench.Cleanup();
        var sampled = listener.Bytes.Values.Sum();
        Console.WriteLine($"{batches * 256:N0} appends in batches of {appendsPerBatch}, {total / (batches * 256.0):F0} B allocated per append (3 nodes, encoding included)");
        foreach (var (type, bytes) in listener.Bytes.OrderByDescending(p => p.Value).Take(25))
        {
            Console.WriteLine($"{100.0 * bytes / sampled,6:F1}%  {total * ((double)bytes / sampled) / (batches * 256.0),7:F0} B/append  {type}");
        }
    }

    private sealed class AllocationListener : EventListener
    {
        public Dictionary<string, long> Bytes { get; } = [];

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(source, EventLevel.Verbose, (EventKeywords)0x1); // GC keyword: AllocationTick
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName is not { } name || !name.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null)
            {
                return;
            }

            var type = e.PayloadNames!.IndexOf("TypeName") is var t and >= 0 ? e.Payload[t] as string ?? "?" : "?";
            var amount = e.PayloadNames.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(e.Payload[a], System.Globalization.CultureInfo.InvariantCulture) : 100_000;
            lock (Bytes)
            {
                Bytes[type] = Bytes.GetValueOrDefault(type) + amount;
            }
        }
    }
}
