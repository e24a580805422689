using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>Parses durations written like <c>500ms</c>, <c>30s</c>, <c>2m</c>, <c>1h</c> (a bare number means seconds).</summary>
internal static class DurationParser
{
    public static TimeSpan Parse(string text, string optionName, bool allowZero = false)
    {
        var t = (text ?? string.Empty).Trim().ToLowerInvariant();
        (string number, double scale) = t switch
        {
            _ when t.EndsWith("ms", StringComparison.Ordinal) => (t[..^2], 0.001),
            _ when t.EndsWith('s') => (t[..^1], 1.0),
            _ when t.EndsWith('m') => (t[..^1], 60.0),
            _ when t.EndsWith('h') => (t[..^1], 3600.0),
            _ => (t, 1.0),
        };
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) || double.IsNaN(value) || value > 1e7)
        {
            throw new ArgumentException($"{optionName}: '{text}' is not a duration (write it like 30s, 2m or 500ms)");
        }

        var result = TimeSpan.FromSeconds(value * scale);
        if (result < TimeSpan.Zero || (!allowZero && result == TimeSpan.Zero))
        {
            throw new ArgumentException($"{optionName} must be {(allowZero ? "zero or more" : "more than zero")}, got '{text}'");
        }

        return result;
    }
}
