using BenchmarkDotNet.Running;

// Runs the BenchmarkDotNet suites: dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*'
// Allocation profile of the append path by type:            dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- alloc-profile [appends] [per batch]
if (args is ["alloc-profile", ..])
{
    WalrusGossip.Benchmarks.AllocationProfile.Run(
        args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200_000,
        args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 256);
    return;
}

BenchmarkSwitcher.FromAssembly(typeof(WalrusGossip.Benchmarks.RecordBenchmarks).Assembly).Run(args);
