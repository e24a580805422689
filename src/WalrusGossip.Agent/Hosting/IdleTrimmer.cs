using System.Runtime.InteropServices;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Decides when the agent should hand memory back to the operating system: once, when a busy period (the applied
/// index moving) has been followed by <see cref="QuietPeriod"/> without progress. Under load the garbage collector
/// keeps its heap at the size the load needed and, with no allocations afterwards, never runs again to shrink it; an
/// aggressive full collection then returns the free segments, so an idle agent's resident memory falls back to about
/// its idle figure. Pure: the caller passes the time, so tests drive it with a fake clock.
/// </summary>
public sealed partial class IdleTrimmer
{
    /// <summary>
    /// Returns memory: a compacting, decommitting (aggressive) full garbage collection, then on Linux glibc's
    /// <c>malloc_trim</c>, which hands the native heaps' free pages (TLS and io_uring buffers, runtime caches) back.
    /// </summary>
    public static void ReturnMemory()
    {
        GC.Collect(2, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (musl, for one): nothing to trim this way.
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

    private ulong _lastApplied;
    private TimeSpan _lastProgress;
    private bool _busySinceTrim;
    private ulong _appliedAtTrim;

    /// <summary>How long without progress counts as idle. Default 1 s.</summary>
    public TimeSpan QuietPeriod { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Applied entries, since the last trim, below which a busy period is too small to be worth a full collection. Default 10,000.</summary>
    public ulong MinimumEntries { get; init; } = 10_000;

    /// <summary>Records the applied index seen at <paramref name="now"/>.</summary>
    /// <param name="applied">The node's applied index.</param>
    /// <param name="now">Monotonic time.</param>
    /// <returns>True exactly once per busy period, when the agent has been idle for <see cref="QuietPeriod"/>.</returns>
    public bool ShouldTrim(ulong applied, TimeSpan now)
    {
        if (applied != _lastApplied)
        {
            _lastApplied = applied;
            _lastProgress = now;
            _busySinceTrim |= applied - Math.Min(applied, _appliedAtTrim) >= MinimumEntries;
            return false;
        }

        if (!_busySinceTrim || now - _lastProgress < QuietPeriod)
        {
            return false;
        }

        _busySinceTrim = false;
        _appliedAtTrim = applied;
        return true;
    }
}
