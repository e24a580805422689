namespace WalrusGossip.LoadTest;

/// <summary>Validated inputs of one run.</summary>
internal sealed record LoadSettings(
    string Scenario,
    int Clients,
    int PayloadBytes,
    TimeSpan Duration,
    TimeSpan Warmup,
    double? Rate,
    double ReadRatio,
    int Subscribers,
    string? JsonFile)
{
    /// <summary>After the run (duration + warm-up), in-flight requests get this long before they are abandoned.</summary>
    public static readonly TimeSpan Drain = TimeSpan.FromSeconds(15);

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
    }
}
