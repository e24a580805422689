using System.Diagnostics;

namespace WalrusGossip.Simulation.Core;

/// <summary>Runs one seed end to end and packages the outcome.</summary>
public static class SimulationRunner
{
    /// <summary>Runs one simulation.</summary>
    /// <param name="options">Seed and options.</param>
    /// <param name="hashTrace">Record the trace and return its SHA-256.</param>
    /// <param name="traceWriter">Where readable trace lines go (implies recording), or null.</param>
    /// <returns>The result; <see cref="RunResult.Passed"/> is false on the first violated property.</returns>
    public static RunResult Run(SimOptions options, bool hashTrace = false, TextWriter? traceWriter = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        var started = Stopwatch.GetTimestamp();
        using var trace = hashTrace || traceWriter is not null ? new TraceRecorder(traceWriter) : null;
        var simulation = new ClusterSimulation(options, trace);
        var violation = simulation.Run();
        return new RunResult(options, violation, simulation.Stats, trace?.HashHex(), Stopwatch.GetElapsedTime(started));
    }
}
