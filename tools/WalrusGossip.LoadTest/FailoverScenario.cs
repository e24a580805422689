using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// failover: kills the leader <see cref="LoadSettings.Kills"/> times while the appends run (local cluster only).
/// Each round waits until every agent answers, agrees on the leader and has caught up, SIGKILLs the leader, times
/// the first append acknowledged in a newer term (<see cref="FailoverRound"/>), and restarts the killed agent with
/// its original command line. The report gets the failover times (notes, <see cref="LoadReport.FailoverMs"/>,
/// <see cref="LoadReport.FailoverMedianMs"/>), the rounds' errors (FailoverNotMeasured, FailoverClusterNotReady,
/// FailoverAgentNotRestarted, FailoverKillsNotDone, FailoverError: each fails the run) and the read-back of every
/// acknowledged append (<see cref="FailoverVerifier"/>).
/// </summary>
internal sealed class FailoverScenario : LoadScenario
{
    /// <summary>How long a restarted agent (or a cluster before a kill) gets to answer, agree on a leader and catch up.</summary>
    private static readonly TimeSpan RestartLimit = TimeSpan.FromSeconds(20);

    /// <summary>Pause after a restarted agent first answers, so it is back in the leader's configuration before the next round's check.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    /// <summary>How long after a kill the appends get to be committed by a new leader before the round counts as failed.</summary>
    private static readonly TimeSpan NewLeaderLimit = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly LoadSettings _s;
    private readonly Action<WalrusClientOptions> _configure;
    private readonly TextWriter _progress;
    private readonly LocalCluster? _local;
    private readonly FailoverVerifier _verifier;
    private readonly List<FailoverRound> _rounds = [];
    private readonly ConcurrentDictionary<string, long> _failoverErrors = new(StringComparer.Ordinal);
    private FailoverRound? _round;
    private Task _failover = Task.CompletedTask;

    /// <summary>A failover scenario; it kills nothing without <paramref name="local"/>.</summary>
    /// <param name="settings">The run's settings (<see cref="LoadSettings.Kills"/>, <see cref="LoadSettings.PayloadBytes"/>).</param>
    /// <param name="runId">The run id in every payload.</param>
    /// <param name="configure">Applies the cluster's endpoints (and context) to client options, for the probe client.</param>
    /// <param name="progress">Where the rounds' messages go.</param>
    /// <param name="local">The local cluster whose agents are killed and restarted.</param>
    public FailoverScenario(LoadSettings settings, long runId, Action<WalrusClientOptions> configure, TextWriter progress, LocalCluster? local)
    {
        _s = settings;
        _configure = configure;
        _progress = progress;
        _local = local;
        _verifier = new FailoverVerifier(runId, settings.PayloadBytes);
    }

    /// <inheritdoc />
    public override bool ChangesLeader => true;

    /// <inheritdoc />
    public override void Start(WalrusClient client, NodeStatus status, RunWindow window, CancellationToken run, CancellationToken cancellationToken) =>
        _failover = Task.Run(() => FailoverAsync(window.MeasureStart, window.End, cancellationToken), CancellationToken.None);

    /// <inheritdoc />
    public override void Appended(AppendResult result, long sequence, long acknowledgedAt)
    {
        _verifier.Acknowledged(result.Index, sequence);
        var round = Volatile.Read(ref _round);
        if (round is not null && acknowledgedAt > round.KillAt && result.Term > round.TermBefore)
        {
            round.Acknowledged(acknowledgedAt);
        }
    }

    /// <inheritdoc />
    /// <remarks>Bounded: no kill after the end, restarts wait at most <see cref="RestartLimit"/>.</remarks>
    public override async Task StopAsync() => await _failover.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);

    /// <inheritdoc />
    /// <exception cref="WalrusException">A read of the read-back failed.</exception>
    /// <exception cref="OperationCanceledException">The read-back took more than 60 s, or the run was cancelled.</exception>
    public override async Task CompleteReportAsync(LoadReport report, LatencyHistogram operations, WalrusClient client, CancellationToken cancellationToken)
    {
        ReportFailovers(report);
        await _verifier.VerifyAsync(client, report, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The failover rounds: for each of <see cref="LoadSettings.Kills"/>, wait for the round's time and a ready cluster,
    /// SIGKILL the leader, wait for the first append committed in a newer term, restart the killed agent and wait until
    /// it answers. Never kills after <see cref="LoadSettings.LastKillBeforeEnd"/> before the end; every wait has a
    /// deadline, so this ends at most <see cref="RestartLimit"/> plus <see cref="Settle"/> after the load.
    /// </summary>
    private async Task FailoverAsync(long measureStart, long end, CancellationToken cancellationToken)
    {
        if (_local is null)
        {
            return;
        }

        await using var probe = LoadClients.CreateProbe(_configure);
        var lastKillAt = end - RunWindow.Ticks(LoadSettings.LastKillBeforeEnd);
        var next = measureStart + RunWindow.Ticks(LoadSettings.FirstKillAfter);
        var done = 0;
        try
        {
            for (var i = 1; i <= _s.Kills && next <= lastKillAt; i++)
            {
                await DelayUntilAsync(next, cancellationToken).ConfigureAwait(false);
                var leader = await WaitUntilReadyAsync(probe, i, Math.Min(Stopwatch.GetTimestamp() + RunWindow.Ticks(RestartLimit), lastKillAt), cancellationToken).ConfigureAwait(false);
                if (leader is null || Stopwatch.GetTimestamp() > lastKillAt)
                {
                    break;
                }

                var command = _local.CaptureCommand(leader.NodeId);
                var pid = _local.PidOf(leader.NodeId);
                var round = new FailoverRound(i, leader.NodeId, pid, leader.Term, Stopwatch.GetTimestamp());
                Volatile.Write(ref _round, round);
                _local.KillAgent(leader.NodeId);
                _rounds.Add(round);
                done++;
                await Say($"failover {i}/{_s.Kills}: SIGKILL leader node {leader.NodeId} (pid {pid}, term {leader.Term})").ConfigureAwait(false);

                // The appends themselves report the new leader's first commit; wait for it at most NewLeaderLimit, and
                // not past the end of the load (no appends are sent after it).
                var limit = Math.Min(round.KillAt + RunWindow.Ticks(NewLeaderLimit), end);
                var left = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), limit);
                try
                {
                    await round.FirstAck.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
                if (round.FailoverMs is { } ms)
                {
                    await Say($"failover {i}/{_s.Kills}: {ms:F0} ms from the kill to the first append committed in a newer term").ConfigureAwait(false);
                }
                else
                {
                    _failoverErrors.AddOrUpdate("FailoverNotMeasured", 1, (_, n) => n + 1);
                    await Say($"failover {i}/{_s.Kills}: error: no append was committed in a newer term within {Stopwatch.GetElapsedTime(round.KillAt, limit).TotalSeconds:F1} s of the kill").ConfigureAwait(false);
                }

                if (!await RestartAsync(probe, command, i, cancellationToken).ConfigureAwait(false))
                {
                    break;
                }

                next = round.KillAt + RunWindow.Ticks(LoadSettings.KillInterval);
                if (i < _s.Kills)
                {
                    // Let the restarted agent rejoin the leader's configuration before the next round checks it.
                    await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (e is InvalidOperationException or IOException or UnauthorizedAccessException or System.ComponentModel.Win32Exception)
        {
            _failoverErrors.AddOrUpdate("FailoverError", 1, (_, n) => n + 1);
            await Say($"failover: error: {e.Message}").ConfigureAwait(false);
        }

        if (done < _s.Kills)
        {
            _failoverErrors["FailoverKillsNotDone"] = _s.Kills - done;
            await Say($"failover: error: only {done} of {_s.Kills} kills done before the end of the run (a round waited for the cluster; use a longer --duration or see the messages above)").ConfigureAwait(false);
        }
    }

    private Task Say(FormattableString message) => _progress.WriteLineAsync(FormattableString.Invariant(message));

    private static async Task DelayUntilAsync(long timestamp, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), timestamp);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>One status request to one agent: its status, or why there is none.</summary>
    private static async Task<(NodeStatus? Status, string? Error)> TryStatusAsync(WalrusClient probe, string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return (await probe.GetStatusAsync(endpoint, cancellationToken).ConfigureAwait(false), null);
        }
        catch (Exception e) when (e is WalrusException or TimeoutException or IOException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            return (null, e.GetType().Name + ": " + e.Message);
        }
    }

    /// <summary>
    /// Polls every agent until all answer, all name the same leader in the same term, that leader says it leads, and
    /// every agent has applied what the leader had committed when they first agreed (so a restarted agent has caught
    /// up). Returns the leader's status, or null (reported as FailoverClusterNotReady) at <paramref name="deadline"/>.
    /// </summary>
    private async Task<NodeStatus?> WaitUntilReadyAsync(WalrusClient probe, int round, long deadline, CancellationToken cancellationToken)
    {
        var nodes = _local!.NodeIds;
        var target = 0UL;
        var state = "no status yet";
        while (true)
        {
            var answers = await Task.WhenAll(nodes.Select(id => TryStatusAsync(probe, _local.ClientEndpointOf(id), cancellationToken))).ConfigureAwait(false);
            var statuses = answers.Select(a => a.Status).ToArray();
            var leaderId = statuses[0]?.LeaderId ?? 0;
            var leader = statuses.FirstOrDefault(st => st is not null && st.NodeId == leaderId && st.Role == NodeRole.Leader);
            if (leader is not null && statuses.All(st => st is not null && st.LeaderId == leaderId && st.Term == leader.Term))
            {
                if (target == 0)
                {
                    target = leader.CommitIndex;
                }

                if (statuses.All(st => st!.AppliedIndex >= target))
                {
                    return leader;
                }
            }

            state = string.Join("; ", nodes.Select((id, k) => statuses[k] is { } st
                ? string.Create(CultureInfo.InvariantCulture, $"node {id} {st.Role.ToString().ToLowerInvariant()} term {st.Term} leader {st.LeaderId} applied {st.AppliedIndex}")
                : string.Create(CultureInfo.InvariantCulture, $"node {id} no answer (pid {_local.PidOf(id)}{(_local.IsRunning(id) ? string.Empty : ", not running")}: {answers[k].Error})")));
            if (Stopwatch.GetTimestamp() >= deadline)
            {
                break;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }

        _failoverErrors.AddOrUpdate("FailoverClusterNotReady", 1, (_, n) => n + 1);
        await Say($"failover {round}/{_s.Kills}: error: the cluster was not ready for the kill in time (all agents answering, one leader, caught up{(target == 0 ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" to index {target}"))}); last seen: {state}").ConfigureAwait(false);
        return null;
    }

    /// <summary>Restarts the killed agent and waits until it answers status as itself, at most <see cref="RestartLimit"/>.</summary>
    private async Task<bool> RestartAsync(WalrusClient probe, AgentCommand command, int round, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        var process = _local!.RestartAgent(command);
        var endpoint = _local.ClientEndpointOf(command.NodeId);
        while (true)
        {
            if (process.HasExited)
            {
                _failoverErrors.AddOrUpdate("FailoverAgentNotRestarted", 1, (_, n) => n + 1);
                await Say($"failover {round}/{_s.Kills}: error: restarted node {command.NodeId} exited with code {process.ExitCode}; last lines of {command.OutputFile}:{Environment.NewLine}{LastLines(command.OutputFile)}").ConfigureAwait(false);
                return false;
            }

            if ((await TryStatusAsync(probe, endpoint, cancellationToken).ConfigureAwait(false)).Status is { } status && status.NodeId == command.NodeId)
            {
                await Say($"failover {round}/{_s.Kills}: restarted node {command.NodeId} (pid {process.Id}) answers after {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s").ConfigureAwait(false);
                return true;
            }

            if (Stopwatch.GetElapsedTime(started) >= RestartLimit)
            {
                _failoverErrors.AddOrUpdate("FailoverAgentNotRestarted", 1, (_, n) => n + 1);
                await Say($"failover {round}/{_s.Kills}: error: restarted node {command.NodeId} (pid {process.Id}) did not answer within {RestartLimit.TotalSeconds:F0} s; last lines of {command.OutputFile}:{Environment.NewLine}{LastLines(command.OutputFile)}").ConfigureAwait(false);
                return false;
            }

            await Task.Delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string LastLines(string file)
    {
        try
        {
            return string.Join(Environment.NewLine, File.ReadLines(file).TakeLast(5).Select(l => "    " + l));
        }
        catch (IOException e)
        {
            return "    (" + e.Message + ")";
        }
    }

    /// <summary>Adds the failover figures (per kill, median, min, max) to the report's notes, JSON fields and errors.</summary>
    private void ReportFailovers(LoadReport report)
    {
        var inv = CultureInfo.InvariantCulture;
        var perKill = _rounds.Select(r => r.FailoverMs is { } ms ? Math.Round(ms, 1) : (double?)null).ToArray();
        var times = perKill.OfType<double>().ToArray();
        report.FailoverMs = times;
        report.FailoverMedianMs = times.Length == 0 ? null : Math.Round(Median(times), 1);
        if (_rounds.Count == 0)
        {
            report.Notes.Add("failover: the leader was not killed");
        }
        else
        {
            report.Notes.Add(string.Create(inv, $"failover: {_rounds.Count} of {_s.Kills} kills, {times.Length} measured; ms from SIGKILL of the leader to the first append committed in a newer term: {string.Join(", ", perKill.Select(ms => ms?.ToString("F0", inv) ?? "none"))}"));
            if (times.Length > 0)
            {
                report.Notes.Add(string.Create(inv, $"failover ms: median {report.FailoverMedianMs:F0}  min {times.Min():F0}  max {times.Max():F0}"));
            }
        }

        var errors = (SortedDictionary<string, long>)report.Errors;
        foreach (var (kind, count) in _failoverErrors)
        {
            errors[kind] = count;
        }
    }

    private static double Median(double[] values)
    {
        var sorted = values.Order().ToArray();
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
