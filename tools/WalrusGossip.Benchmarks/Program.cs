using BenchmarkDotNet.Running;

// Runs the BenchmarkDotNet suites: dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(WalrusGossip.Benchmarks.RecordBenchmarks).Assembly).Run(args);
