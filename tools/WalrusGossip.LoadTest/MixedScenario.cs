using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// mixed: a <see cref="LoadSettings.ReadRatio"/> fraction of the operations are linearizable reads of one of the
/// last 1,024 acknowledged indexes, picked at random, instead of appends (appends only until the first one is
/// acknowledged). Reads and appends both count in the latency figures; a note says how many reads were measured.
/// </summary>
/// <param name="readRatio">Fraction of operations that are reads, 0..1.</param>
/// <param name="recorder">The run's recorder: read latency goes in with the appends'.</param>
internal sealed class MixedScenario(double readRatio, Recorder recorder) : LoadScenario
{
    private readonly ulong[] _recent = new ulong[1024];
    private long _recentCount;
    private long _reads;

    /// <inheritdoc />
    public override async ValueTask<bool> TryReadAsync(WalrusClient client, long intended, CancellationToken cancellationToken)
    {
        if (!(readRatio > 0 && Random.Shared.NextDouble() < readRatio && Interlocked.Read(ref _recentCount) > 0))
        {
            return false;
        }

        var n = Interlocked.Read(ref _recentCount);
        var index = Volatile.Read(ref _recent[Random.Shared.NextInt64(Math.Min(n, _recent.Length))]);
        _ = await client.ReadAsync(index, Consistency.Linearizable, cancellationToken).ConfigureAwait(false);
        recorder.Record(Stopwatch.GetTimestamp() - intended);
        if (recorder.Measuring)
        {
            Interlocked.Increment(ref _reads);
        }

        return true;
    }

    /// <inheritdoc />
    public override void Appended(AppendResult result, long sequence, long acknowledgedAt) =>
        Volatile.Write(ref _recent[(Interlocked.Increment(ref _recentCount) - 1) % _recent.Length], result.Index);

    /// <inheritdoc />
    public override Task CompleteReportAsync(LoadReport report, LatencyHistogram operations, WalrusClient client, CancellationToken cancellationToken)
    {
        report.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"linearizable reads {Interlocked.Read(ref _reads):N0} of {operations.Count:N0} measured ops (ratio {readRatio})"));
        return Task.CompletedTask;
    }
}
