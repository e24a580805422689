namespace WalrusGossip.Agent.Network;

/// <summary>A lock-free byte budget shared by concurrent admitters (the client port's back-pressure).</summary>
public static class AdmissionLimit
{
    /// <summary>
    /// Adds <paramref name="bytes"/> to <paramref name="admitted"/> unless the total would exceed <paramref name="limit"/>.
    /// A request is always admitted when nothing else is, so one request larger than the limit is not refused forever.
    /// </summary>
    /// <param name="admitted">The running total, updated atomically; callers subtract what they admitted when done.</param>
    /// <param name="bytes">Bytes of the new request, at least 0.</param>
    /// <param name="limit">Most bytes admitted at once.</param>
    /// <returns>True when admitted (and counted); false when refused (nothing counted).</returns>
    public static bool TryAdmit(ref long admitted, long bytes, long limit)
    {
        var now = Interlocked.Add(ref admitted, bytes);
        if (now > limit && now != bytes)
        {
            Interlocked.Add(ref admitted, -bytes);
            return false;
        }

        return true;
    }
}
