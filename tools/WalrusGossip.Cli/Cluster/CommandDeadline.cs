using System.Globalization;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// The <c>--timeout</c> deadline of one walrusctl invocation: <see cref="CliRunner"/> starts it, every command runs
/// under its token, and a command that ends unsuccessfully after it expired reports a timeout (exit
/// <see cref="CliRunner.TimedOut"/>) instead of whatever the cancellation looked like.
/// </summary>
internal sealed class CommandDeadline
{
    private static readonly AsyncLocal<CommandDeadline?> Ambient = new();

    public CommandDeadline(TimeSpan timeout, CancellationToken token)
    {
        Timeout = timeout;
        Token = token;
    }

    /// <summary>The deadline of the command running in this async flow, or null without <c>--timeout</c>.</summary>
    public static CommandDeadline? Current
    {
        get => Ambient.Value;
        set => Ambient.Value = value;
    }

    public TimeSpan Timeout { get; }

    /// <summary>Cancelled when the deadline expires.</summary>
    public CancellationToken Token { get; }

    public bool Expired => Token.IsCancellationRequested;

    /// <summary>The message printed when it expired.</summary>
    public string Message => $"timed out after {Format(Timeout)} (--timeout)";

    /// <summary>Parses a duration: a number with unit <c>ms</c>, <c>s</c>, <c>m</c> or <c>h</c> (<c>500ms</c>, <c>5s</c>, <c>1.5m</c>), or plain seconds.</summary>
    /// <exception cref="ArgumentException">Not a duration, or not above zero, or above 24 hours.</exception>
    public static TimeSpan Parse(string text, string option = "--timeout")
    {
        ArgumentNullException.ThrowIfNull(text);
        var s = text.Trim();
        var (number, scale) = s switch
        {
            _ when s.EndsWith("ms", StringComparison.OrdinalIgnoreCase) => (s[..^2], 1.0),
            _ when s.EndsWith('s') || s.EndsWith('S') => (s[..^1], 1_000.0),
            _ when s.EndsWith('m') || s.EndsWith('M') => (s[..^1], 60_000.0),
            _ when s.EndsWith('h') || s.EndsWith('H') => (s[..^1], 3_600_000.0),
            _ => (s, 1_000.0),
        };
        if (!double.TryParse(number, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) || value <= 0 || double.IsInfinity(value))
        {
            throw new ArgumentException($"{option} '{text}' is not a duration above zero (like 500ms, 5s, 2m, 1h; a plain number is seconds)");
        }

        var ms = value * scale;
        if (ms > TimeSpan.FromHours(24).TotalMilliseconds)
        {
            throw new ArgumentException($"{option} '{text}' is longer than 24h");
        }

        return TimeSpan.FromMilliseconds(Math.Max(1, ms));
    }

    public static string Format(TimeSpan timeout) => timeout.TotalMilliseconds < 1_000
        ? string.Create(CultureInfo.InvariantCulture, $"{timeout.TotalMilliseconds:0.###}ms")
        : string.Create(CultureInfo.InvariantCulture, $"{timeout.TotalSeconds:0.###}s");
}
