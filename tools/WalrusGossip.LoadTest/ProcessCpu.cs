using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>
/// CPU time spent over the measured window by the generator (this process) and, with <c>--local</c>, by each local
/// agent: user and kernel time from <c>/proc/PID/stat</c> (fields utime and stime, all threads, in clock ticks of
/// 10 ms) read once when the window opens and once when it closes. Divided by the operations completed in the window
/// it gives the CPU one operation costs end to end on this machine, the figure docs/performance.md compares between
/// commits. Without <c>/proc</c> (not Linux) it reports nothing.
/// </summary>
internal sealed class ProcessCpu
{
    /// <summary>Linux's USER_HZ: the unit of utime and stime in /proc/PID/stat (100 on every architecture .NET runs on).</summary>
    private const double TicksPerSecond = 100;

    private readonly LocalCluster? _local;
    private Dictionary<string, (long User, long Kernel)>? _start;
    private Dictionary<string, (long User, long Kernel)>? _end;

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
        if (_start is null || _end is null || ops <= 0 || _end.Count == 0)
        {
            return null;
        }

        var inv = CultureInfo.InvariantCulture;
        double Us(long ticks) => ticks / TicksPerSecond * 1e6 / ops;
        long user = 0, kernel = 0;
        var parts = new List<string>();
        foreach (var (name, end) in _end)
        {
            if (!_start.TryGetValue(name, out var start))
            {
                continue; // restarted during the window (failover): its time is not comparable
            }

            var u = end.User - start.User;
            var k = end.Kernel - start.Kernel;
            user += u;
            kernel += k;
            parts.Add(string.Create(inv, $"{name} {Us(u + k):F1}"));
        }

        var busy = (user + kernel) / TicksPerSecond / Math.Max(seconds, 1e-9);
        return string.Create(inv,
            $"cpu per op: {Us(user + kernel):F1} us ({Us(user):F1} user, {Us(kernel):F1} kernel; {busy * 100:F0}% of one core) from /proc/PID/stat over the measured window; by process: {string.Join(", ", parts)}");
    }

    /// <summary>µs of CPU (user + kernel, all counted processes) per operation; null when nothing was sampled or no operation completed.</summary>
    /// <param name="ops">Operations completed in the measured window.</param>
    /// <returns>The figure, rounded to 0.1 µs, or null.</returns>
    public double? UsPerOp(long ops)
    {
        if (_start is null || _end is null || ops <= 0)
        {
            return null;
        }

        long ticks = 0;
        foreach (var (name, end) in _end)
        {
            if (_start.TryGetValue(name, out var start))
            {
                ticks += end.User - start.User + end.Kernel - start.Kernel;
            }
        }

        return Math.Round(ticks / TicksPerSecond * 1e6 / ops, 1);
    }

    private static TimeSpan Until(long timestamp)
    {
        var left = System.Diagnostics.Stopwatch.GetElapsedTime(System.Diagnostics.Stopwatch.GetTimestamp(), timestamp);
        return left > TimeSpan.Zero ? left : TimeSpan.Zero;
    }

    private Dictionary<string, (long User, long Kernel)> Sample()
    {
        var result = new Dictionary<string, (long User, long Kernel)>(StringComparer.Ordinal);
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

    /// <summary>utime and stime of <paramref name="pid"/>, or null when it is gone or /proc is not there.</summary>
    private static (long User, long Kernel)? Read(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // The command name (field 2) is in parentheses and may hold spaces: count fields after the last ')'.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // fields[0] is field 3 (state); utime is field 14, stime field 15.
            return (long.Parse(fields[11], CultureInfo.InvariantCulture), long.Parse(fields[12], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or ArgumentOutOfRangeException)
        {
            return null;
        }
    }
}
