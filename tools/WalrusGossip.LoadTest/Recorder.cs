using System.Collections.Concurrent;
using System.Diagnostics;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>Thread-safe latency and error recording: a total histogram (after warm-up) and a per-second one for the progress line.</summary>
internal sealed class Recorder
{
    private readonly Lock _gate = new();
    private readonly LatencyHistogram _total = new();
    private readonly LatencyHistogram _interval = new();
    private long _intervalErrors;

    public ConcurrentDictionary<string, long> Errors { get; } = new(StringComparer.Ordinal);

    private long _measureStart = long.MaxValue;
    private long _measureEnd = long.MaxValue;

    /// <summary>True while the current time is inside the measured window (after warm-up, before the end).</summary>
    public bool Measuring => InWindow(Stopwatch.GetTimestamp());

    /// <summary>Sets the measured window: only operations completing inside it reach the report.</summary>
    public void SetWindow(long start, long end)
    {
        _measureStart = start;
        _measureEnd = end;
    }

    private bool InWindow(long timestamp) => timestamp >= _measureStart && timestamp < _measureEnd;

    public LatencyHistogram Total => _total;

    public void Record(long ticks)
    {
        lock (_gate)
        {
            _interval.Record(ticks);
            if (InWindow(Stopwatch.GetTimestamp()))
            {
                _total.Record(ticks);
            }
        }
    }

    public void Error(string kind)
    {
        Interlocked.Increment(ref _intervalErrors);
        if (Measuring)
        {
            Errors.AddOrUpdate(kind, 1, (_, n) => n + 1);
        }
    }

    public void Error(Exception e) => Error(e is OperationCanceledException ? "Canceled" : e.GetType().Name);

    /// <summary>Returns and clears the interval figures: count, p99 in ms, errors.</summary>
    public (long Count, double P99Ms, long Errors) TakeInterval()
    {
        lock (_gate)
        {
            var result = (_interval.Count, ToMs(_interval.ValueAt(0.99)), Interlocked.Exchange(ref _intervalErrors, 0));
            _interval.Reset();
            return result;
        }
    }

    public static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
