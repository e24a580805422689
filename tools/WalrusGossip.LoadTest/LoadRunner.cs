using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;

namespace WalrusGossip.LoadTest;

/// <summary>
/// Runs one scenario: sets up the load clients (<see cref="LoadClients"/>) and fails fast when the cluster is
/// unreachable or has no leader, runs the appends (<see cref="AppendLoad"/>) with the scenario's additions
/// (<see cref="LoadScenario"/>) over the warm-up and measured window (<see cref="RunWindow"/>) with a progress line a
/// second (<see cref="ProgressReporter"/>), gives the requests still in flight <see cref="LoadSettings.Drain"/>, and
/// builds the report: figures of the measured window, the shared notes (clients, leader elections, agent memory,
/// CPU per operation, open loop), then the scenario's.
/// </summary>
/// <param name="settings">The run's validated settings.</param>
/// <param name="configure">Applies the cluster's endpoints (and context) to client options.</param>
/// <param name="progress">Where progress and failover messages go.</param>
/// <param name="local">The local cluster (<c>--local</c>), or null for a cluster elsewhere.</param>
internal sealed class LoadRunner(LoadSettings settings, Action<WalrusClientOptions> configure, TextWriter progress, LocalCluster? local)
{
    private readonly LoadSettings _s = settings;
    private readonly Recorder _recorder = new();
    private readonly long _runId = Random.Shared.NextInt64(1, long.MaxValue);

    /// <summary>Error kinds that make the run fail (exit code 1) rather than merely count.</summary>
    public static IReadOnlyList<string> FailingErrors { get; } =
        ["AcknowledgedAppendLost", "FailoverNotMeasured", "FailoverClusterNotReady", "FailoverAgentNotRestarted", "FailoverKillsNotDone", "FailoverError"];

    /// <summary>Runs the scenario to its end (or to cancellation) and returns its report.</summary>
    /// <param name="cancellationToken">Cancels the run (Ctrl+C): the load stops and the report covers the time measured so far.</param>
    /// <returns>The report; errors that fail the run are among <see cref="FailingErrors"/>.</returns>
    /// <exception cref="WalrusUnavailableException">The cluster is unreachable or has no leader.</exception>
    /// <exception cref="WalrusException">The failover read-back failed.</exception>
    /// <exception cref="ArgumentException">The configured client options are not valid.</exception>
    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken)
    {
        var clients = new List<WalrusClient>();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var scenario = LoadScenario.Create(_s, _recorder, _runId, configure, progress, local);
        try
        {
            LoadClients.AddLoadClients(clients, _s, configure);
            var status = await LoadClients.StatusWithLeaderAsync(clients[0], cancellationToken).ConfigureAwait(false);
            var memory = new AgentMemory(local);
            var window = RunWindow.StartingNow(_s.Warmup, _s.Duration);
            _recorder.SetWindow(window.MeasureStart, window.End);
            var cpu = new ProcessCpu(local);
            var cpuSampling = cpu.SampleWindowAsync(window, run.Token);

            scenario.Start(clients[0], status, window, run.Token, cancellationToken);
            var load = new AppendLoad(_s, _recorder, scenario, _runId).Start(clients, window, run.Token);
            var measuredEnd = await ProgressReporter.RunAsync(load, window, _recorder, memory, progress, run.Token).ConfigureAwait(false);
            await cpuSampling.ConfigureAwait(false);

            // Bounded drain: requests still in flight get LoadSettings.Drain, then are cancelled.
            if (await Task.WhenAny(load, Task.Delay(LoadSettings.Drain, CancellationToken.None)).ConfigureAwait(false) != load)
            {
                _recorder.Errors.AddOrUpdate("AbandonedAfterDrain", 1, (_, n) => n + 1);
                await run.CancelAsync().ConfigureAwait(false);
            }

            await load.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await scenario.StopAsync().ConfigureAwait(false);

            var notes = new List<string>();
            if (!scenario.ChangesLeader)
            {
                notes.Add(await ElectionNoteAsync(clients[0], status).ConfigureAwait(false));
            }

            if (await memory.DescribeAfterLoadAsync(cancellationToken).ConfigureAwait(false) is { } memoryNote)
            {
                notes.Add(memoryNote);
            }

            var inv = CultureInfo.InvariantCulture;
            var seconds = Stopwatch.GetElapsedTime(window.MeasureStart, measuredEnd).TotalSeconds;
            var total = _recorder.Total;
            var report = LoadReport.From(_s.Scenario, _s.Clients, _s.PayloadBytes, seconds, total.Count, scenario.ReportedLatency(total), _recorder.Errors);
            report.Notes.Add(string.Create(inv, $"sdk: {_s.Clients:N0} clients share {_s.SdkClients} WalrusClient(s), {_s.Lanes} append requests in flight each (waiting appends are coalesced)"));
            report.Notes.AddRange(notes);
            if (cpu.Describe(total.Count, seconds) is { } cpuNote)
            {
                report.Notes.Add(cpuNote);
                report.CpuUsPerOp = cpu.UsPerOp(total.Count);
            }

            if (_s.Rate is { } r)
            {
                report.Notes.Add(string.Create(inv, $"open loop at {r:N0}/s, latency from the intended send time; in-flight bound {_s.Clients}"));
            }

            await scenario.CompleteReportAsync(report, total, clients[0], cancellationToken).ConfigureAwait(false);
            return report;
        }
        finally
        {
            await run.CancelAsync().ConfigureAwait(false);
            foreach (var client in clients)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A leader election during a run explains a stall in its latency figures: a note saying whether the raft term
    /// changed from <paramref name="before"/> to now (or why that is unknown).
    /// </summary>
    private static async Task<string> ElectionNoteAsync(WalrusClient client, NodeStatus before)
    {
        try
        {
            using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            var after = await client.GetStatusAsync(probe.Token).ConfigureAwait(false);
            return after.Term == before.Term
                ? string.Create(CultureInfo.InvariantCulture, $"raft term {before.Term} from start to end: no leader election during the run")
                : string.Create(CultureInfo.InvariantCulture, $"raft term {before.Term} at the start, {after.Term} at the end: leader elections happened during the run");
        }
        catch (Exception e) when (e is WalrusException or OperationCanceledException)
        {
            return $"raft term at the end unknown: {e.Message}";
        }
    }
}
