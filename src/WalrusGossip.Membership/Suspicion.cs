namespace WalrusGossip.Membership;

/// <summary>
/// Suspicion timer with Lifeguard's local health aware suspicion (Dadgar et al. 2018): the timeout
/// starts at <c>max</c> and shrinks logarithmically with each independent confirmation, reaching
/// <c>min</c> after <c>k</c> of them:
/// <c>timeout(c) = max(min, max − (max − min) · log(c + 1) / log(k + 1))</c>.
/// With k = 0 (Lifeguard off, or too few members to confirm) the timeout is <c>min</c> at once,
/// which is plain SWIM's fixed suspicion timeout (SWIM §4.2).
/// </summary>
internal sealed class Suspicion
{
    private readonly HashSet<string> _confirmers = new(StringComparer.Ordinal);

    public Suspicion(string firstAccuser, int k, TimeSpan min, TimeSpan max, TimeSpan start)
    {
        if (min > max || min <= TimeSpan.Zero || k < 0)
        {
            throw new MembershipInvariantViolationException($"suspicion needs 0 < min <= max and k >= 0, got min={min} max={max} k={k}");
        }

        K = k;
        Min = min;
        Max = k == 0 ? min : max;
        Start = start;
        _confirmers.Add(firstAccuser);
        Deadline = Start + Timeout(0);
    }

    public int K { get; }

    public TimeSpan Min { get; }

    public TimeSpan Max { get; }

    public TimeSpan Start { get; }

    /// <summary>Independent confirmations counted so far (the first accuser does not count), 0 … K.</summary>
    public int Confirmations { get; private set; }

    /// <summary>True once the local node has started a probe of the suspect during this suspicion.</summary>
    public bool ProbedByLocal { get; set; }

    /// <summary>When the member is declared dead unless it refutes first.</summary>
    public TimeSpan Deadline { get; private set; }

    public bool HasAccused(string member) => _confirmers.Contains(member);

    /// <summary>
    /// Records an accusation from <paramref name="from"/>. Returns true when it is new (it should
    /// be re-gossiped); only the first K new accusers shorten the timeout.
    /// </summary>
    public bool Confirm(string from)
    {
        if (!_confirmers.Add(from))
        {
            return false;
        }

        if (Confirmations < K)
        {
            Confirmations++;
            Deadline = Start + Timeout(Confirmations);
        }

        return true;
    }

    /// <summary>Timeout after <paramref name="confirmations"/> independent confirmations.</summary>
    public TimeSpan Timeout(int confirmations)
    {
        if (K == 0)
        {
            return Min;
        }

        var fraction = Math.Log(confirmations + 1) / Math.Log(K + 1);
        var ticks = Max.Ticks - (long)((Max.Ticks - Min.Ticks) * fraction);
        return TimeSpan.FromTicks(Math.Max(Min.Ticks, ticks));
    }

    /// <summary>
    /// Minimum suspicion timeout for a cluster of <paramref name="liveMembers"/>, hashicorp/memberlist's
    /// <c>suspicionTimeout</c> (util.go): <c>multiplier × max(1, log10(n)) × probeInterval</c>. The log is floored at
    /// 1, so clusters of up to ten members get <c>multiplier</c> protocol periods.
    /// </summary>
    public static TimeSpan MinTimeout(int multiplier, int liveMembers, TimeSpan probeInterval)
    {
        var scale = Math.Max(1.0, Math.Log10(Math.Max(1, liveMembers)));
        return TimeSpan.FromTicks((long)(multiplier * scale * probeInterval.Ticks));
    }
}
