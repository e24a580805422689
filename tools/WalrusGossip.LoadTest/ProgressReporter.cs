using System.Diagnostics;
using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>
/// The progress lines of a run: once a second, until the load completes, one line with the seconds since the start,
/// the interval's ops/s, p99 (ms) and errors from <see cref="Recorder.TakeInterval"/>, and the phase (warm-up,
/// draining); each tick also samples the agents' memory for the peak figure.
/// </summary>
internal static class ProgressReporter
{
    /// <summary>Writes progress lines until <paramref name="load"/> completes or the run is cancelled.</summary>
    /// <param name="load">The running load.</param>
    /// <param name="window">The run's time line.</param>
    /// <param name="recorder">The run's recorder.</param>
    /// <param name="memory">Sampled for the peak on each tick.</param>
    /// <param name="progress">Where the lines go.</param>
    /// <param name="cancellationToken">Cancels the run (Ctrl+C): stops the lines.</param>
    /// <returns>The end of the measured window: <see cref="RunWindow.End"/>, or now for a run cancelled before it (clamped to the window).</returns>
    public static async Task<long> RunAsync(Task load, RunWindow window, Recorder recorder, AgentMemory memory, TextWriter progress, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var last = Stopwatch.GetTimestamp();
        while (!load.IsCompleted)
        {
            var tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
            await Task.WhenAny(tick, load).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            var now = Stopwatch.GetTimestamp();
            memory.SamplePeak();
            var (count, p99, errors) = recorder.TakeInterval();
            var secs = Stopwatch.GetElapsedTime(last, now).TotalSeconds;
            last = now;
            if (secs < 0.5)
            {
                continue; // the partial interval at the end of the load
            }

            var phase = now < window.MeasureStart ? " (warm-up)" : now >= window.End ? " (draining)" : string.Empty;
            await progress.WriteLineAsync(string.Create(inv,
                $"[{Stopwatch.GetElapsedTime(window.Start, now).TotalSeconds,5:F0}s] {count / Math.Max(secs, 1e-3),9:N0} ops/s  p99 {p99,8:F2} ms  errors {errors}{phase}")).ConfigureAwait(false);
        }

        // A run cancelled early (Ctrl+C) measured only up to now.
        return Math.Clamp(Stopwatch.GetTimestamp(), window.MeasureStart, window.End);
    }
}
