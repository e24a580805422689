using System.Numerics;

namespace WalrusGossip.Cli;

/// <summary>
/// Log-bucketed latency histogram: 128 linear sub-buckets per power of two, so any recorded value is reported
/// within 1/128 (&lt; 0.8%) relative error. Fixed size; recording allocates nothing. Not thread-safe: use one per
/// thread and <see cref="Merge"/>.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private readonly long[] _counts = new long[64 * SubBuckets];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long value)
    {
        value = Math.Max(0, value);
        _counts[BucketOf(value)]++;
        Count++;
        Max = Math.Max(Max, value);
    }

    public void Merge(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0..1): the upper edge of the bucket holding it, capped at the maximum seen.</summary>
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
