using WalrusGossip.Agent.Network;

namespace WalrusGossip.Agent.Tests;

public sealed class AdmissionLimitTests
{
    [Fact]
    public void Requests_beyond_the_budget_are_refused_until_earlier_ones_are_released()
    {
        long admitted = 0;
        Assert.True(AdmissionLimit.TryAdmit(ref admitted, 600, limit: 1000));
        Assert.True(AdmissionLimit.TryAdmit(ref admitted, 400, limit: 1000));
        Assert.False(AdmissionLimit.TryAdmit(ref admitted, 1, limit: 1000));
        Assert.Equal(1000, admitted);

        Interlocked.Add(ref admitted, -600);
        Assert.True(AdmissionLimit.TryAdmit(ref admitted, 500, limit: 1000));
        Assert.Equal(900, admitted);
    }

    [Fact]
    public void One_request_larger_than_the_budget_is_admitted_when_nothing_else_is()
    {
        long admitted = 0;
        Assert.True(AdmissionLimit.TryAdmit(ref admitted, 5000, limit: 1000));
        Assert.False(AdmissionLimit.TryAdmit(ref admitted, 10, limit: 1000));
    }

    [Fact]
    public void Concurrent_admitters_never_overshoot_the_budget()
    {
        long admitted = 0;
        var peak = 0L;
        Parallel.For(0, 100_000, _ =>
        {
            if (AdmissionLimit.TryAdmit(ref admitted, 10, limit: 1000))
            {
                var seen = Interlocked.Read(ref admitted);
                long before;
                do
                {
                    before = Interlocked.Read(ref peak);
                }
                while (seen > before && Interlocked.CompareExchange(ref peak, seen, before) != before);
                Interlocked.Add(ref admitted, -10);
            }
        });

        Assert.Equal(0, admitted);
        Assert.InRange(peak, 10, 1000 + (10 * 1000)); // refused admitters add and take back their bytes: at most one request each in transit
    }
}
