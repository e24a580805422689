namespace WalrusGossip.LoadTest;

/// <summary>
/// Fixed-rate arrival schedule of an open-loop run: request i (from 0) is intended at
/// <c>start + i / rate</c>, whatever happened to earlier requests. Latency is measured from this intended time, so a
/// stalled system is charged for the requests it kept from being sent (no coordinated omission).
/// </summary>
internal sealed class OpenLoopSchedule
{
    private readonly long _start;
    private readonly double _ticksPerRequest;

    public OpenLoopSchedule(double ratePerSecond, long startTimestamp, long ticksPerSecond)
    {
        if (!(ratePerSecond > 0) || double.IsInfinity(ratePerSecond))
        {
            throw new ArgumentException($"--rate must be more than zero, got {ratePerSecond}");
        }

        _start = startTimestamp;
        _ticksPerRequest = ticksPerSecond / ratePerSecond;
    }

    /// <summary>Intended send timestamp of request <paramref name="i"/>.</summary>
    public long IntendedAt(long i) => _start + (long)(i * _ticksPerRequest);

    /// <summary>How many requests (0..n-1) are due at <paramref name="now"/>, i.e. intended at or before it.</summary>
    public long DueBy(long now) => now < _start ? 0 : (long)Math.Floor((now - _start) / _ticksPerRequest) + 1;
}
