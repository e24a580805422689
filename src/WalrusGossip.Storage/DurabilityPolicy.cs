using System.Globalization;

namespace WalrusGossip.Storage;

/// <summary>When an append counts as complete.</summary>
public enum DurabilityMode
{
    /// <summary>After its bytes are on stable storage (fdatasync); concurrent appends share one fdatasync (group commit).</summary>
    Always,

    /// <summary>After its bytes are written to the OS; an fdatasync runs at least every <see cref="DurabilityPolicy.Interval"/>.</summary>
    Interval,

    /// <summary>After its bytes are written to the OS; fdatasync only when a segment is sealed and on close.</summary>
    None,
}

/// <summary>
/// The durability policy of the log: <c>always</c>, <c>interval:&lt;ms&gt;</c> or <c>none</c>
/// (configuration key <c>Storage:Fsync</c>).
/// </summary>
/// <param name="Mode">The mode.</param>
/// <param name="Interval">For <see cref="DurabilityMode.Interval"/>, the longest time between fdatasyncs; 1 ms to 60 s.</param>
public readonly record struct DurabilityPolicy(DurabilityMode Mode, TimeSpan Interval)
{
    /// <summary>Every append is durable before it completes.</summary>
    public static DurabilityPolicy Always => new(DurabilityMode.Always, TimeSpan.Zero);

    /// <summary>Appends complete when written; data reaches disk on seal and close only.</summary>
    public static DurabilityPolicy None => new(DurabilityMode.None, TimeSpan.Zero);

    /// <summary>Appends complete when written; fdatasync at least every <paramref name="interval"/>.</summary>
    /// <param name="interval">1 ms to 60 s.</param>
    /// <returns>The policy.</returns>
    public static DurabilityPolicy Every(TimeSpan interval) => new(DurabilityMode.Interval, interval);

    /// <summary>Parses <c>always</c>, <c>none</c> or <c>interval:&lt;ms&gt;</c> (case-insensitive).</summary>
    /// <param name="text">The policy text.</param>
    /// <returns>The parsed policy.</returns>
    /// <exception cref="StorageConfigurationException">The text is not one of the accepted forms, or the interval is outside 1..60000 ms.</exception>
    public static DurabilityPolicy Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var t = text.Trim().ToLowerInvariant();
        if (t == "always")
        {
            return Always;
        }

        if (t == "none")
        {
            return None;
        }

        if (t.StartsWith("interval:", StringComparison.Ordinal) &&
            int.TryParse(t.AsSpan("interval:".Length), NumberStyles.None, CultureInfo.InvariantCulture, out var ms) &&
            ms is >= 1 and <= 60_000)
        {
            return Every(TimeSpan.FromMilliseconds(ms));
        }

        throw new StorageConfigurationException(
            $"invalid durability policy '{text}': expected 'always', 'none' or 'interval:<ms>' with 1 <= ms <= 60000");
    }

    /// <summary>The policy in the form <see cref="Parse"/> accepts.</summary>
    /// <returns><c>always</c>, <c>none</c> or <c>interval:&lt;ms&gt;</c>.</returns>
    public override string ToString() => Mode switch
    {
        DurabilityMode.Always => "always",
        DurabilityMode.None => "none",
        _ => string.Create(CultureInfo.InvariantCulture, $"interval:{(long)Interval.TotalMilliseconds}"),
    };
}
