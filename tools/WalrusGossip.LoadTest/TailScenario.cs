using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// tail: <see cref="LoadSettings.Subscribers"/> tail subscriptions follow the log from the first index after the
/// cluster's commit index at the start while the appends run. The report's latency figures are tail lag: from an
/// append's intended send time (<see cref="PayloadStamp"/>) to its delivery to a subscriber, for this run's appends
/// sent in the measured window, once per subscriber; append latency is in a note. A subscription that fails is
/// counted as a <c>Tail</c>-prefixed error and not restarted.
/// </summary>
/// <param name="subscribers">Tail subscriptions, at least 1.</param>
/// <param name="recorder">The run's recorder, for subscription errors.</param>
/// <param name="runId">The run id in every payload.</param>
internal sealed class TailScenario(int subscribers, Recorder recorder, long runId) : LoadScenario
{
    /// <summary>How long the subscribers keep following after the load, for deliveries still on their way.</summary>
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(500);

    private readonly LatencyHistogram _lag = new();
    private readonly List<Task> _tails = [];
    private CancellationTokenSource? _stop;
    private long _received;

    /// <inheritdoc />
    public override void Start(WalrusClient client, NodeStatus status, RunWindow window, CancellationToken run, CancellationToken cancellationToken)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(run);
        var stop = _stop.Token;
        for (var m = 0; m < subscribers; m++)
        {
            _tails.Add(Task.Run(() => FollowAsync(client, status.CommitIndex + 1, window, stop), CancellationToken.None));
        }
    }

    /// <inheritdoc />
    public override async Task StopAsync()
    {
        if (_stop is null || _tails.Count == 0)
        {
            return;
        }

        await Task.Delay(Linger, CancellationToken.None).ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_tails).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    /// <inheritdoc />
    public override LatencyHistogram ReportedLatency(LatencyHistogram operations) => _lag;

    /// <inheritdoc />
    public override Task CompleteReportAsync(LoadReport report, LatencyHistogram operations, WalrusClient client, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        report.Notes.Add(string.Create(inv, $"tail: {subscribers} subscribers received {Interlocked.Read(ref _received):N0} entries; latency figures above are tail lag (append send -> delivery to a subscriber)"));
        report.Notes.Add(string.Create(inv, $"append latency ms: p50 {Recorder.ToMs(operations.ValueAt(0.5)):F2}  p99 {Recorder.ToMs(operations.ValueAt(0.99)):F2}  max {Recorder.ToMs(operations.Max):F2}"));
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop?.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>One subscription: records the lag of each of this run's entries sent in the measured window.</summary>
    private async Task FollowAsync(WalrusClient client, ulong from, RunWindow window, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var entry in client.TailAsync(from, cancellationToken).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                if (PayloadStamp.TryRead(entry.Payload.Span, runId, out _, out var sent) && sent >= window.MeasureStart && sent < window.End)
                {
                    lock (_lag)
                    {
                        _lag.Record(now - sent);
                    }

                    Interlocked.Increment(ref _received);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WalrusException or IOException)
        {
            recorder.Error("Tail" + e.GetType().Name);
        }
    }
}
