using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>Validated inputs of one run.</summary>
/// <param name="Kills">failover: leader kills in the run (1..100), each followed by a restart of the killed agent.</param>
/// <param name="SdkClients">WalrusClient instances the simulated clients share, round-robin (1..1,000, at most --clients).</param>
/// <param name="Lanes">MaxConcurrentAppends of each WalrusClient: append requests in flight per instance (1..1,024).</param>
internal sealed record LoadSettings(
    string Scenario,
    int Clients,
    int PayloadBytes,
    TimeSpan Duration,
    TimeSpan Warmup,
    double? Rate,
    double ReadRatio,
    int Subscribers,
    string? JsonFile,
    int Kills = 1,
    int SdkClients = 1,
    int Lanes = 16)
{
    /// <summary>After the run (duration + warm-up), in-flight requests get this long before they are abandoned.</summary>
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(15);

    /// <summary>Most leader kills one failover run may ask for.</summary>
    public const int MaxKills = 100;

    /// <summary>failover: the first kill comes this long into the measured window.</summary>
    public static readonly TimeSpan FirstKillAfter = TimeSpan.FromSeconds(3);

    /// <summary>
    /// failover: kills come at least this far apart; the next one also waits until the previous victim is back,
    /// settled and caught up.
    /// </summary>
    public static readonly TimeSpan KillInterval = TimeSpan.FromSeconds(6);

    /// <summary>failover: no kill starts later than this before the end of the measured window (time to measure it).</summary>
    public static readonly TimeSpan LastKillBeforeEnd = TimeSpan.FromSeconds(3);

    /// <summary>
    /// failover: measured time each kill needs in <c>--duration</c>: the <see cref="KillInterval"/> plus slack for
    /// rounds whose restart takes longer, so that the last kill still comes before <see cref="LastKillBeforeEnd"/>.
    /// </summary>
    public static readonly TimeSpan KillBudget = TimeSpan.FromSeconds(7);

    /// <summary>failover: the shortest <c>--duration</c> for <paramref name="kills"/> kills (it is never extended).</summary>
    /// <param name="kills">Leader kills.</param>
    /// <returns><see cref="FirstKillAfter"/> plus <see cref="KillBudget"/> per kill.</returns>
    public static TimeSpan MinimumFailoverDuration(int kills) => FirstKillAfter + (KillBudget * kills);

    public void Validate()
    {
        if (Clients < 1)
        {
            throw new ArgumentException($"--clients must be at least 1, got {Clients}");
        }

        if (PayloadBytes < 24)
        {
            throw new ArgumentException($"--payload must be at least 24 bytes (each payload carries a run id, a sequence number and a timestamp), got {PayloadBytes}");
        }

        if (Rate is { } r && !(r > 0))
        {
            throw new ArgumentException($"--rate must be more than zero, got {r}");
        }

        if (ReadRatio is < 0 or > 1 || double.IsNaN(ReadRatio))
        {
            throw new ArgumentException($"--read-ratio must be between 0 and 1, got {ReadRatio}");
        }

        if (Subscribers < 1)
        {
            throw new ArgumentException($"--subscribers must be at least 1, got {Subscribers}");
        }

        if (SdkClients < 1 || SdkClients > Math.Min(1000, Clients))
        {
            throw new ArgumentException($"--sdk-clients must be 1..min(1000, --clients), got {SdkClients}");
        }

        if (Lanes is < 1 or > 1024)
        {
            throw new ArgumentException($"--lanes must be 1..1024, got {Lanes}");
        }

        if (Kills is < 1 or > MaxKills)
        {
            throw new ArgumentException($"--kills must be 1..{MaxKills}, got {Kills}");
        }

        if (Scenario == "failover" && Duration < MinimumFailoverDuration(Kills))
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--duration {Duration.TotalSeconds:0.###}s is too short for --kills {Kills}: failover needs at least {MinimumFailoverDuration(Kills).TotalSeconds:0.###}s ({FirstKillAfter.TotalSeconds:0}s before the first kill, then {KillBudget.TotalSeconds:0}s per kill)"));
        }
    }
}
