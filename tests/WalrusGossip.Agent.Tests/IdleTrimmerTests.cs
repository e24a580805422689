using WalrusGossip.Agent.Hosting;

namespace WalrusGossip.Agent.Tests;

public sealed class IdleTrimmerTests
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void Memory_is_returned_once_after_a_busy_period_has_been_quiet_for_the_quiet_period()
    {
        var trimmer = new IdleTrimmer { QuietPeriod = TimeSpan.FromSeconds(1), MinimumEntries = 1_000 };
        var now = TimeSpan.Zero;
        ulong applied = 0;
        var trims = new List<TimeSpan>();
        void Run(int steps, ulong perStep)
        {
            for (var i = 0; i < steps; i++)
            {
                applied += perStep;
                now += Step;
                if (trimmer.ShouldTrim(applied, now))
                {
                    trims.Add(now);
                }
            }
        }

        Run(steps: 10, perStep: 0);      // idle from the start: nothing to return
        Run(steps: 25, perStep: 500);    // 5 s of load
        Run(steps: 4, perStep: 0);       // 0.8 s quiet: not yet
        Assert.Empty(trims);
        Run(steps: 20, perStep: 0);      // quiet on: exactly one trim
        Assert.Equal([TimeSpan.FromSeconds(8)], trims); // load ended at 7 s
        Run(steps: 5, perStep: 100);     // a trickle below MinimumEntries
        Run(steps: 20, perStep: 0);
        Assert.Single(trims);
    }
}
