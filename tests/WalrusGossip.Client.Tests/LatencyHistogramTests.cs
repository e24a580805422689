using WalrusGossip.Client.Diagnostics;
using WalrusGossip.LoadTest;

namespace WalrusGossip.Client.Tests;

public sealed class LatencyHistogramTests
{
    [Fact]
    public void Every_quantile_is_within_one_percent_above_the_exact_value()
    {
        var random = new Random(7);
        var values = Enumerable.Range(0, 100_000).Select(_ => (long)Math.Exp(random.NextDouble() * 25)).ToArray();
        var histogram = new LatencyHistogram();
        foreach (var v in values)
        {
            histogram.Record(v);
        }

        Array.Sort(values);
        foreach (var q in new[] { 0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0 })
        {
            var exact = values[Math.Clamp((int)Math.Ceiling(q * values.Length) - 1, 0, values.Length - 1)];
            var reported = histogram.ValueAt(q);
            Assert.InRange(reported, exact, exact + Math.Max(1, exact / 100));
        }

        Assert.Equal(values[^1], histogram.Max);
        Assert.Equal(values.Length, histogram.Count);
    }

    [Fact]
    public void Small_values_are_exact_and_negative_values_count_as_zero()
    {
        var histogram = new LatencyHistogram();
        histogram.Record(-5);
        histogram.Record(3);
        histogram.Record(127);
        Assert.Equal(0, histogram.ValueAt(0.0));
        Assert.Equal(3, histogram.ValueAt(0.5));
        Assert.Equal(127, histogram.ValueAt(1.0));
    }

    [Fact]
    public void Merge_adds_counts_and_keeps_the_larger_maximum_and_reset_empties()
    {
        var a = new LatencyHistogram();
        var b = new LatencyHistogram();
        a.Record(1_000);
        b.Record(1_000_000);
        b.Record(10);
        a.Merge(b);
        Assert.Equal(3, a.Count);
        Assert.Equal(1_000_000, a.Max);
        Assert.Equal(2, b.Count);
        a.Reset();
        Assert.Equal(0, a.Count);
        Assert.Equal(0, a.ValueAt(0.99));
    }
}

public sealed class LoadTestParsingTests
{
    [Theory]
    [InlineData("30s", 30.0)]
    [InlineData("2m", 120.0)]
    [InlineData("500ms", 0.5)]
    [InlineData("1.5s", 1.5)]
    [InlineData("1h", 3600.0)]
    [InlineData("10", 10.0)]
    public void Durations_parse_with_units(string text, double seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), DurationParser.Parse(text, "--duration"));

    [Theory]
    [InlineData("0s")]
    [InlineData("-5s")]
    [InlineData("abc")]
    [InlineData("")]
    [InlineData("5x")]
    public void Bad_durations_are_refused_with_the_option_name(string text)
    {
        var e = Assert.Throws<ArgumentException>(() => DurationParser.Parse(text, "--duration"));
        Assert.Contains("--duration", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Zero_warmup_is_allowed() => Assert.Equal(TimeSpan.Zero, DurationParser.Parse("0s", "--warmup", allowZero: true));

    [Fact]
    public void Open_loop_schedule_spaces_requests_by_the_rate_from_the_start_on_a_fake_clock()
    {
        const long freq = 1_000_000; // fake clock: microsecond ticks
        var schedule = new OpenLoopSchedule(ratePerSecond: 1_000, startTimestamp: 5_000, ticksPerSecond: freq);
        Assert.Equal(5_000, schedule.IntendedAt(0));
        Assert.Equal(6_000, schedule.IntendedAt(1));
        Assert.Equal(5_000 + 1_000_000, schedule.IntendedAt(1_000));
        Assert.Equal(0, schedule.DueBy(4_999));
        Assert.Equal(1, schedule.DueBy(5_000));
        Assert.Equal(1, schedule.DueBy(5_999));
        Assert.Equal(2, schedule.DueBy(6_000));

        // A stalled sender that wakes 1 s late owes every request intended meanwhile, each timed from its own slot.
        Assert.Equal(1_001, schedule.DueBy(5_000 + freq));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    public void Open_loop_schedule_refuses_non_positive_rates(double rate) =>
        Assert.Throws<ArgumentException>(() => new OpenLoopSchedule(rate, 0, 1_000));
}
