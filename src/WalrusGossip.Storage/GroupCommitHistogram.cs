using System.Diagnostics.Metrics;

namespace WalrusGossip.Storage;

/// <summary>
/// Counts group commits (one write + fdatasync each) by duration in fixed buckets, lock-free, so operators can see the
/// tail of the disk's flush latency, not only its mean (the role of etcd's <c>wal_fsync_duration_seconds</c>). The
/// agent exposes it as the Prometheus histogram <c>walrus_log_fsync_seconds</c>.
/// </summary>
/// <remarks>
/// Each group commit is also recorded on the <see cref="System.Diagnostics.Metrics"/> histogram
/// <c>walrus_log_fsync_seconds</c> of the meter <see cref="MeterName"/> (seconds), which the agent exports and
/// <c>dotnet-counters</c> shows; with no listener that costs one branch.
/// </remarks>
public sealed class GroupCommitHistogram
{
    /// <summary>Name of the storage layer's <see cref="Meter"/>.</summary>
    public const string MeterName = "WalrusGossip.Storage";

    private static readonly Meter StorageMeter = new(MeterName);
    private static readonly Histogram<double> FsyncSeconds = StorageMeter.CreateHistogram<double>("walrus_log_fsync_seconds", "s", "Group-commit write + fdatasync time of the local log.");

    /// <summary>Upper bounds of the buckets in seconds, ascending: 0.25 ms to 1 s; a last, unbounded bucket follows.</summary>
    public static IReadOnlyList<double> BoundsSeconds { get; } = [0.00025, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024];

    private readonly long[] _counts = new long[BoundsSeconds.Count + 1];
    private long _ticks;

    /// <summary>Records one group commit.</summary>
    /// <param name="elapsed">Its duration; negative values count as zero.</param>
    public void Record(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        var i = 0;
        while (i < BoundsSeconds.Count && seconds > BoundsSeconds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _counts[i]);
        Interlocked.Add(ref _ticks, Math.Max(0, elapsed.Ticks));
        FsyncSeconds.Record(Math.Max(0, seconds));
    }

    /// <summary>Group commits recorded so far.</summary>
    public long Count
    {
        get
        {
            long total = 0;
            foreach (ref var c in _counts.AsSpan())
            {
                total += Interlocked.Read(ref c);
            }

            return total;
        }
    }

    /// <summary>Total duration of the group commits recorded so far.</summary>
    public TimeSpan Sum => TimeSpan.FromTicks(Interlocked.Read(ref _ticks));

    /// <summary>Copies the per-bucket counts (not cumulative): one per bound of <see cref="BoundsSeconds"/>, then the unbounded one.</summary>
    /// <param name="destination">At least <see cref="BoundsSeconds"/>.Count + 1 long.</param>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too short.</exception>
    public void CopyCounts(Span<long> destination)
    {
        if (destination.Length < _counts.Length)
        {
            throw new ArgumentException($"needs room for {_counts.Length} counts", nameof(destination));
        }

        for (var i = 0; i < _counts.Length; i++)
        {
            destination[i] = Interlocked.Read(ref _counts[i]);
        }
    }
}
