using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// What one scenario adds to the appends every scenario runs (<see cref="AppendLoad"/>): tasks of its own beside the
/// load (<see cref="Start"/>, <see cref="StopAsync"/>), reads in place of some appends (<see cref="TryReadAsync"/>), a
/// look at each acknowledged append (<see cref="Appended"/>), and its figures in the report. Every hook does nothing
/// by default. <see cref="Create"/> picks the type for <see cref="LoadSettings.Scenario"/>; disposing releases what
/// <see cref="Start"/> made.
/// </summary>
internal abstract class LoadScenario : IDisposable
{
    /// <summary>The scenario of a run.</summary>
    /// <param name="settings">The run's settings; <see cref="LoadSettings.Scenario"/> picks the type (append when none matches).</param>
    /// <param name="recorder">The run's recorder.</param>
    /// <param name="runId">The run id in every payload (<see cref="PayloadStamp"/>).</param>
    /// <param name="configure">Applies the cluster's endpoints (and context) to client options.</param>
    /// <param name="progress">Where progress and failover messages go.</param>
    /// <param name="local">The local cluster, or null when the run has none.</param>
    /// <returns>An <see cref="AppendScenario"/>, <see cref="MixedScenario"/>, <see cref="TailScenario"/> or <see cref="FailoverScenario"/>.</returns>
    public static LoadScenario Create(LoadSettings settings, Recorder recorder, long runId, Action<WalrusClientOptions> configure, TextWriter progress, LocalCluster? local) =>
        settings.Scenario switch
        {
            "mixed" => new MixedScenario(settings.ReadRatio, recorder),
            "tail" => new TailScenario(settings.Subscribers, recorder, runId),
            "failover" => new FailoverScenario(settings, runId, configure, progress, local),
            _ => new AppendScenario(),
        };

    /// <summary>
    /// True when the scenario changes the leader on purpose; otherwise the report says whether leader elections
    /// happened during the run (one explains a stall in its latency figures).
    /// </summary>
    public virtual bool ChangesLeader => false;

    /// <summary>Starts the scenario's own tasks; called once, before the load starts.</summary>
    /// <param name="client">The first load client.</param>
    /// <param name="status">The cluster's status before the load (it has a leader).</param>
    /// <param name="window">The run's time line.</param>
    /// <param name="run">Cancelled when the load is abandoned after the drain, or when the run ends.</param>
    /// <param name="cancellationToken">Cancels the whole run (Ctrl+C).</param>
    public virtual void Start(WalrusClient client, NodeStatus status, RunWindow window, CancellationToken run, CancellationToken cancellationToken)
    {
    }

    /// <summary>Called before each append: may send a read instead (and record its latency).</summary>
    /// <param name="client">The load client of the operation.</param>
    /// <param name="intended">Stopwatch timestamp the operation was meant to be sent at; latency counts from it.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>True when a read was done and no append is to be sent.</returns>
    /// <exception cref="WalrusException">The read failed (recorded as an error by the load, like a failed append).</exception>
    public virtual ValueTask<bool> TryReadAsync(WalrusClient client, long intended, CancellationToken cancellationToken) => ValueTask.FromResult(false);

    /// <summary>Called for each acknowledged append, on the appending task.</summary>
    /// <param name="result">Where the append was committed.</param>
    /// <param name="sequence">Its sequence number in the run (<see cref="PayloadStamp"/>).</param>
    /// <param name="acknowledgedAt">Stopwatch timestamp of the acknowledgement.</param>
    public virtual void Appended(AppendResult result, long sequence, long acknowledgedAt)
    {
    }

    /// <summary>Ends the scenario's own tasks once the load is over (drained or abandoned); bounded.</summary>
    /// <returns>Completes when they have ended.</returns>
    public virtual Task StopAsync() => Task.CompletedTask;

    /// <summary>The latency the report's figures are of; by default the operations' own (append and read latency).</summary>
    /// <param name="operations">The recorder's measured operations.</param>
    /// <returns>The histogram for the report's latency figures.</returns>
    public virtual LatencyHistogram ReportedLatency(LatencyHistogram operations) => operations;

    /// <summary>Adds the scenario's notes, fields and errors to the report, after the shared notes.</summary>
    /// <param name="report">The run's report.</param>
    /// <param name="operations">The recorder's measured operations.</param>
    /// <param name="client">The first load client (still open).</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>Completes when the report is complete.</returns>
    public virtual Task CompleteReportAsync(LoadReport report, LatencyHistogram operations, WalrusClient client, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what <see cref="Start"/> made.</summary>
    /// <param name="disposing">True when called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}
