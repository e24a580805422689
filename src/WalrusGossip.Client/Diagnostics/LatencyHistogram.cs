using System.Numerics;

namespace WalrusGossip.Client.Diagnostics;

/// <summary>
/// Log-bucketed latency histogram for client-side measurements (load tests, benchmarks): 128 linear sub-buckets per
/// power of two, so any recorded value is reported within 1/128 (&lt; 0.8%) relative error. Fixed size (64 KiB);
/// recording allocates nothing. Values are unitless non-negative integers (for example <see cref="System.Diagnostics.Stopwatch"/>
/// ticks or microseconds); negative values are recorded as 0.
/// </summary>
/// <remarks>Not thread-safe: use one per thread (or guard it with a lock) and combine them with <see cref="Merge"/>.</remarks>
public sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private readonly long[] _counts = new long[64 * SubBuckets];

    /// <summary>Number of values recorded.</summary>
    public long Count { get; private set; }

    /// <summary>Largest value recorded (exact), or 0 when empty.</summary>
    public long Max { get; private set; }

    /// <summary>Records one value.</summary>
    /// <param name="value">The value; negative values count as 0.</param>
    public void Record(long value)
    {
        value = Math.Max(0, value);
        _counts[BucketOf(value)]++;
        Count++;
        Max = Math.Max(Max, value);
    }

    /// <summary>Adds every value recorded in <paramref name="other"/> to this histogram.</summary>
    /// <param name="other">The histogram to add; left unchanged.</param>
    public void Merge(LatencyHistogram other)
    {
        ArgumentNullException.ThrowIfNull(other);
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>Forgets every recorded value.</summary>
    public void Reset()
    {
        Array.Clear(_counts);
        Count = 0;
        Max = 0;
    }

    /// <summary>
    /// The value at quantile <paramref name="q"/>: the upper edge of the bucket holding the value of that rank,
    /// capped at <see cref="Max"/>. At most 1/128 above the true value, never below it.
    /// </summary>
    /// <param name="q">The quantile, 0..1 (0.99 for p99).</param>
    /// <returns>The value, or 0 when the histogram is empty.</returns>
    public long ValueAt(double q)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(q * Count);
        rank = Math.Clamp(rank, 1, Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperEdge(i), Max);
            }
        }

        return Max;
    }

    private static int BucketOf(long value)
    {
        if (value < SubBuckets)
        {
            return (int)value;
        }

        var magnitude = 63 - BitOperations.LeadingZeroCount((ulong)value); // >= SubBucketBits
        var shift = magnitude - SubBucketBits;
        var sub = (int)(value >> shift) - SubBuckets; // 0..127
        return ((shift + 1) * SubBuckets) + sub;
    }

    private static long UpperEdge(int bucket)
    {
        if (bucket < SubBuckets)
        {
            return bucket;
        }

        var shift = (bucket / SubBuckets) - 1;
        var sub = bucket % SubBuckets;
        return ((long)(SubBuckets + sub + 1) << shift) - 1;
    }
}
