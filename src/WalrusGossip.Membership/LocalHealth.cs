namespace WalrusGossip.Membership;

/// <summary>
/// Lifeguard's local health multiplier ("local health aware probe", Dadgar et al. 2018): a score in
/// [0, max − 1] that rises when this node misses acks or nacks it expected, or has to refute a
/// suspicion about itself, and falls on each successful direct probe. Probe interval and probe
/// timeout are multiplied by score + 1, so a node that is itself slow probes less aggressively.
/// </summary>
internal sealed class LocalHealth
{
    private readonly int _max;

    public LocalHealth(int maxMultiplier) => _max = maxMultiplier;

    public int Score { get; private set; }

    public void ApplyDelta(int delta) => Score = Math.Clamp(Score + delta, 0, _max - 1);

    public TimeSpan Scale(TimeSpan value) => value * (Score + 1);
}
