using System.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// The time line of one run, as <see cref="Stopwatch"/> timestamps: the load starts at <see cref="Start"/>, is
/// measured from <see cref="MeasureStart"/> (after the warm-up) and sends nothing from <see cref="End"/> on.
/// </summary>
/// <param name="Start">When the load starts (the warm-up begins).</param>
/// <param name="MeasureStart">When the warm-up ends and the measured window begins.</param>
/// <param name="End">When the measured window ends; no operation is sent after it.</param>
internal readonly record struct RunWindow(long Start, long MeasureStart, long End)
{
    /// <summary>The window of a run that starts now: <paramref name="warmup"/>, then <paramref name="duration"/> measured.</summary>
    /// <param name="warmup">Unmeasured time before the measured window (may be zero).</param>
    /// <param name="duration">Measured time.</param>
    /// <returns>The window, from the current timestamp.</returns>
    public static RunWindow StartingNow(TimeSpan warmup, TimeSpan duration)
    {
        var start = Stopwatch.GetTimestamp();
        var measureStart = start + Ticks(warmup);
        return new RunWindow(start, measureStart, measureStart + Ticks(duration));
    }

    /// <summary><paramref name="time"/> in <see cref="Stopwatch"/> ticks.</summary>
    /// <param name="time">A duration.</param>
    /// <returns>Stopwatch ticks, truncated.</returns>
    public static long Ticks(TimeSpan time) => (long)(time.TotalSeconds * Stopwatch.Frequency);
}
