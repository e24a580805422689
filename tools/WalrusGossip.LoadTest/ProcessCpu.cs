using System.Diagnostics;
using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>
/// CPU time spent over the measured window by the generator (this process) and, with <c>--local</c>, by each local
/// agent: user and kernel time of all its threads (<see cref="Process.UserProcessorTime"/> and
/// <see cref="Process.PrivilegedProcessorTime"/>; on Linux the runtime reads them from <c>/proc/PID/stat</c>, in
/// 10 ms clock ticks) read once when the window opens and once when it closes. Divided by the operations completed in
/// the window it gives the CPU one operation costs end to end on this machine, the figure docs/performance.md compares
/// between commits.
/// </summary>
internal sealed class ProcessCpu
{
    private readonly LocalCluster? _local;
    private Dictionary<string, (TimeSpan User, TimeSpan Kernel)>? _start;
    private Dictionary<string, (TimeSpan User, TimeSpan Kernel)>? _end;

    /// <summary>Creates the sampler; nothing is read until <see cref="SampleStart"/>.</summary>
    /// <param name="local">The local cluster whose agents are counted, or null to count the generator only.</param>
    public ProcessCpu(LocalCluster? local) => _local = local;

    /// <summary>Reads every counted process's CPU time as the measured window opens.</summary>
    public void SampleStart() => _start = Sample();

    /// <summary>Reads every counted process's CPU time as the measured window closes.</summary>
    public void SampleEnd() => _end = Sample();

    /// <summary>
    /// Waits for the window to open and samples, then for it to close and samples again (on a timer task, so the load
    /// and progress lines are not delayed).
    /// </summary>
    /// <param name="window">The run's time line.</param>
    /// <param name="cancellationToken">Stops waiting; the sample not yet taken is then taken at once.</param>
    /// <returns>A task that completes after the second sample.</returns>
    public async Task SampleWindowAsync(RunWindow window, CancellationToken cancellationToken)
    {
        await Task.Delay(Until(window.MeasureStart), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        SampleStart();
        await Task.Delay(Until(window.End), cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        SampleEnd();
    }

    /// <summary>
    /// One report note: µs of CPU per operation, all processes together, split into user and kernel time, and per
    /// process; null when nothing was sampled or no operation completed.
    /// </summary>
    /// <param name="ops">Operations completed in the measured window.</param>
    /// <param name="seconds">Length of the measured window in seconds.</param>
    /// <returns>The note, or null.</returns>
    public string? Describe(long ops, double seconds)
    {
        var deltas = Deltas();
        if (deltas is null || ops <= 0 || deltas.Count == 0)
        {
            return null;
        }

        var inv = CultureInfo.InvariantCulture;
        double Us(TimeSpan cpu) => cpu.TotalMicroseconds / ops;
        var user = TimeSpan.Zero;
        var kernel = TimeSpan.Zero;
        var parts = new List<string>();
        foreach (var (name, u, k) in deltas)
        {
            user += u;
            kernel += k;
            parts.Add(string.Create(inv, $"{name} {Us(u + k):F1}"));
        }

        var busy = (user + kernel).TotalSeconds / Math.Max(seconds, 1e-9);
        return string.Create(inv,
            $"cpu per op: {Us(user + kernel):F1} us ({Us(user):F1} user, {Us(kernel):F1} kernel; {busy * 100:F0}% of one core) from /proc/PID/stat over the measured window; by process: {string.Join(", ", parts)}");
    }

    /// <summary>µs of CPU (user + kernel, all counted processes) per operation; null when nothing was sampled or no operation completed.</summary>
    /// <param name="ops">Operations completed in the measured window.</param>
    /// <returns>The figure, rounded to 0.1 µs, or null.</returns>
    public double? UsPerOp(long ops)
    {
        if (Deltas() is not { } deltas || ops <= 0)
        {
            return null;
        }

        var total = TimeSpan.Zero;
        foreach (var (_, u, k) in deltas)
        {
            total += u + k;
        }

        return Math.Round(total.TotalMicroseconds / ops, 1);
    }

    /// <summary>CPU time each process sampled at both ends spent in the window; null before both samples.</summary>
    private List<(string Name, TimeSpan User, TimeSpan Kernel)>? Deltas()
    {
        if (_start is null || _end is null)
        {
            return null;
        }

        var deltas = new List<(string, TimeSpan, TimeSpan)>();
        foreach (var (name, end) in _end)
        {
            if (_start.TryGetValue(name, out var start)) // absent: restarted during the window (failover), not comparable
            {
                deltas.Add((name, end.User - start.User, end.Kernel - start.Kernel));
            }
        }

        return deltas;
    }

    private static TimeSpan Until(long timestamp)
    {
        var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private Dictionary<string, (TimeSpan User, TimeSpan Kernel)> Sample()
    {
        var result = new Dictionary<string, (TimeSpan User, TimeSpan Kernel)>(StringComparer.Ordinal);
        if (Read(Environment.ProcessId) is { } self)
        {
            result["generator"] = self;
        }

        if (_local is not null)
        {
            foreach (var id in _local.NodeIds)
            {
                if (Read(_local.PidOf(id)) is { } agent)
                {
                    result[string.Create(CultureInfo.InvariantCulture, $"node {id}")] = agent;
                }
            }
        }

        return result;
    }

    /// <summary>User and kernel CPU time of <paramref name="pid"/>, or null when it is gone.</summary>
    private static (TimeSpan User, TimeSpan Kernel)? Read(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return (process.UserProcessorTime, process.PrivilegedProcessorTime);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            return null;
        }
    }
}
