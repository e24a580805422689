using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// Runs one scenario. Each simulated client is a concurrent task with its own append in flight; the tasks share
/// <see cref="LoadSettings.SdkClients"/> <see cref="WalrusClient"/> instances round-robin (default 1, as an application
/// shares one client: one multiplexed connection per agent), each with <see cref="LoadSettings.Lanes"/> requests in
/// flight, into which waiting appends are coalesced.
/// Every payload starts with the run id, a unique sequence number and the send timestamp, so the failover scenario can
/// check every acknowledged append against what the log holds and the tail scenario can measure delivery lag.
/// The failover scenario kills the leader <see cref="LoadSettings.Kills"/> times while the appends run: each round waits
/// until every agent answers, agrees on the leader and has caught up, SIGKILLs the leader, times the first append
/// acknowledged in a newer term, and restarts the killed agent with its original command line.
/// </summary>
internal sealed class LoadRunner
{

    /// <summary>Limit for one status request of the failover probe client.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

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
    private readonly Recorder _recorder = new();
    private readonly long _runId = Random.Shared.NextInt64(1, long.MaxValue);
    private readonly byte[] _filler;
    private readonly ConcurrentQueue<Acked> _acked = new();
    private readonly ulong[] _recent = new ulong[1024];
    private readonly Dictionary<ulong, double> _peakRss = [];
    private readonly List<FailoverRound> _rounds = [];
    private readonly ConcurrentDictionary<string, long> _failoverErrors = new(StringComparer.Ordinal);
    private long _sequence;
    private long _recentCount;
    private long _reads;
    private FailoverRound? _round;

    public LoadRunner(LoadSettings settings, Action<WalrusClientOptions> configure, TextWriter progress, LocalCluster? local)
    {
        _s = settings;
        _configure = configure;
        _progress = progress;
        _local = local;
        _filler = new byte[settings.PayloadBytes];
        Random.Shared.NextBytes(_filler);
    }

    /// <summary>Error kinds that make the run fail (exit code 1) rather than merely count.</summary>
    public static IReadOnlyList<string> FailingErrors { get; } =
        ["AcknowledgedAppendLost", "FailoverNotMeasured", "FailoverClusterNotReady", "FailoverAgentNotRestarted", "FailoverKillsNotDone", "FailoverError"];

    private readonly record struct Acked(ulong Index, ulong Term, long Sequence);

    private bool TrackAcks => _s.Scenario == "failover";

    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken)
    {
        var clients = new List<WalrusClient>();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            for (var i = 0; i < _s.SdkClients; i++)
            {
                var options = new WalrusClientOptions();
                _configure(options);
                options.MaxConcurrentAppends = _s.Lanes;
                options.ClientName = "walrus-loadtest";
                options.Validate();
                clients.Add(new WalrusClient(options));
            }

            // Fail fast (clear error, no hang) when the cluster is unreachable or has no leader.
            NodeStatus status;
            using (var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                probe.CancelAfter(TimeSpan.FromSeconds(15));
                try
                {
                    status = await clients[0].GetStatusAsync(probe.Token).ConfigureAwait(false);
                    if (status.LeaderId == 0)
                    {
                        throw new WalrusUnavailableException($"{status.Endpoint}: the cluster has no leader (no quorum?)");
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new WalrusUnavailableException("no agent answered a status request within 15 s");
                }
            }

            var idleRss = _local?.ResidentMiB();
            var start = Stopwatch.GetTimestamp();
            var measureStart = start + Ticks(_s.Warmup);
            var end = measureStart + Ticks(_s.Duration);
            _recorder.SetWindow(measureStart, end);

            var report0Notes = new List<string>();
            var tailLag = new LatencyHistogram();
            var tailCount = 0L;
            using var tailStop = CancellationTokenSource.CreateLinkedTokenSource(run.Token);
            var tails = new List<Task>();
            if (_s.Scenario == "tail")
            {
                for (var m = 0; m < _s.Subscribers; m++)
                {
                    tails.Add(Task.Run(() => TailAsync(clients[0], status.CommitIndex + 1, tailLag, () => Interlocked.Increment(ref tailCount), measureStart, end, tailStop.Token), CancellationToken.None));
                }
            }

            Task load = _s.Rate is { } rate
                ? Task.Run(() => OpenLoopAsync(clients, rate, start, end, run.Token), CancellationToken.None)
                : Task.WhenAll(Enumerable.Range(0, _s.Clients).Select(i => Task.Run(() => ClosedLoopAsync(clients[i % clients.Count], i, end, run.Token), CancellationToken.None)));
            var failover = _s.Scenario == "failover"
                ? Task.Run(() => FailoverAsync(measureStart, end, cancellationToken), CancellationToken.None)
                : Task.CompletedTask;

            var measuredEnd = await ProgressAsync(load, start, measureStart, end, run.Token).ConfigureAwait(false);

            // Bounded drain: requests still in flight get LoadSettings.Drain, then are cancelled.
            if (await Task.WhenAny(load, Task.Delay(LoadSettings.Drain, CancellationToken.None)).ConfigureAwait(false) != load)
            {
                _recorder.Errors.AddOrUpdate("AbandonedAfterDrain", 1, (_, n) => n + 1);
                await run.CancelAsync().ConfigureAwait(false);
            }

            await load.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await failover.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing); // bounded: no kill after the end, restarts wait at most RestartLimit
            if (tails.Count > 0)
            {
                await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
                await tailStop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(tails).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (_s.Scenario != "failover")
            {
                // A leader election during a run explains a stall in its latency figures: say whether one happened.
                try
                {
                    using var probe = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                    var after = await clients[0].GetStatusAsync(probe.Token).ConfigureAwait(false);
                    report0Notes.Add(after.Term == status.Term
                        ? string.Create(CultureInfo.InvariantCulture, $"raft term {status.Term} from start to end: no leader election during the run")
                        : string.Create(CultureInfo.InvariantCulture, $"raft term {status.Term} at the start, {after.Term} at the end: leader elections happened during the run"));
                }
                catch (Exception e) when (e is WalrusException or OperationCanceledException)
                {
                    report0Notes.Add($"raft term at the end unknown: {e.Message}");
                }
            }

            if (_local is not null && idleRss is not null)
            {
                // The agents return memory about a second after their load stops (IdleTrimmer); thread-pool threads
                // and other runtime caches shrink over the following seconds.
                await Task.Delay(2000, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                var after2 = _local.ResidentMiB();
                await Task.Delay(8000, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                var after10 = _local.ResidentMiB();
                static string Mib(Dictionary<ulong, double> sample, ulong id) => sample.TryGetValue(id, out var v) ? v.ToString("F0", CultureInfo.InvariantCulture) : "dead";
                report0Notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"agent RSS MiB (idle / peak under load / 2 s after / 10 s after): {string.Join(", ", idleRss.Keys.Order().Select(id => $"node {id} {idleRss[id]:F0} / {(_peakRss.TryGetValue(id, out var p) ? p : 0):F0} / {Mib(after2, id)} / {Mib(after10, id)}"))}"));
            }

            var seconds = Stopwatch.GetElapsedTime(measureStart, measuredEnd).TotalSeconds;
            var total = _recorder.Total;
            var report = LoadReport.From(_s.Scenario, _s.Clients, _s.PayloadBytes, seconds, total.Count, _s.Scenario == "tail" ? tailLag : total, _recorder.Errors);
            report.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"sdk: {_s.Clients:N0} clients share {_s.SdkClients} WalrusClient(s), {_s.Lanes} append requests in flight each (waiting appends are coalesced)"));
            var inv = CultureInfo.InvariantCulture;
            report.Notes.AddRange(report0Notes);
            if (_s.Rate is { } r)
            {
                report.Notes.Add(string.Create(inv, $"open loop at {r:N0}/s, latency from the intended send time; in-flight bound {_s.Clients}"));
            }

            if (_s.Scenario == "mixed")
            {
                report.Notes.Add(string.Create(inv, $"linearizable reads {Interlocked.Read(ref _reads):N0} of {total.Count:N0} measured ops (ratio {_s.ReadRatio})"));
            }

            if (_s.Scenario == "tail")
            {
                report.Notes.Add(string.Create(inv, $"tail: {_s.Subscribers} subscribers received {tailCount:N0} entries; latency figures above are tail lag (append send -> delivery to a subscriber)"));
                report.Notes.Add(string.Create(inv, $"append latency ms: p50 {Recorder.ToMs(total.ValueAt(0.5)):F2}  p99 {Recorder.ToMs(total.ValueAt(0.99)):F2}  max {Recorder.ToMs(total.Max):F2}"));
            }

            if (_s.Scenario == "failover")
            {
                await VerifyAsync(clients[0], report, cancellationToken).ConfigureAwait(false);
            }

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

    private static long Ticks(TimeSpan t) => (long)(t.TotalSeconds * Stopwatch.Frequency);

    private async Task<long> ProgressAsync(Task load, long start, long measureStart, long end, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var measuredEnd = end;
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        var last = Stopwatch.GetTimestamp();
        while (!load.IsCompleted)
        {
            var tick = timer.WaitForNextTickAsync(cancellationToken).AsTask();
            await Task.WhenAny(tick, load).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                break;
            }

            var now = Stopwatch.GetTimestamp();
            if (_local is not null)
            {
                foreach (var (id, mib) in _local.ResidentMiB())
                {
                    _peakRss[id] = Math.Max(mib, _peakRss.GetValueOrDefault(id));
                }
            }

            var (count, p99, errors) = _recorder.TakeInterval();
            var secs = Stopwatch.GetElapsedTime(last, now).TotalSeconds;
            last = now;
            if (secs < 0.5)
            {
                continue; // the partial interval at the end of the load
            }

            var phase = now < measureStart ? " (warm-up)" : now >= end ? " (draining)" : string.Empty;
            await _progress.WriteLineAsync(string.Create(inv,
                $"[{Stopwatch.GetElapsedTime(start, now).TotalSeconds,5:F0}s] {count / Math.Max(secs, 1e-3),9:N0} ops/s  p99 {p99,8:F2} ms  errors {errors}{phase}")).ConfigureAwait(false);
        }

        // A run cancelled early (Ctrl+C) measured only up to now.
        return Math.Clamp(Stopwatch.GetTimestamp(), measureStart, measuredEnd);
    }

    private void Stamp(byte[] buffer, long sendTimestamp, out long sequence)
    {
        sequence = Interlocked.Increment(ref _sequence);
        BinaryPrimitives.WriteInt64LittleEndian(buffer, _runId);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(8), sequence);
        BinaryPrimitives.WriteInt64LittleEndian(buffer.AsSpan(16), sendTimestamp);
    }

    private async Task ClosedLoopAsync(WalrusClient client, int id, long end, CancellationToken cancellationToken)
    {
        var buffer = (byte[])_filler.Clone();
        while (!cancellationToken.IsCancellationRequested && Stopwatch.GetTimestamp() < end)
        {
            await OneOpAsync(client, buffer, Stopwatch.GetTimestamp(), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task OneOpAsync(WalrusClient client, byte[] buffer, long intended, CancellationToken cancellationToken)
    {
        try
        {
            if (_s.ReadRatio > 0 && Random.Shared.NextDouble() < _s.ReadRatio && Interlocked.Read(ref _recentCount) > 0)
            {
                var n = Interlocked.Read(ref _recentCount);
                var index = Volatile.Read(ref _recent[Random.Shared.NextInt64(Math.Min(n, _recent.Length))]);
                _ = await client.ReadAsync(index, Consistency.Linearizable, cancellationToken).ConfigureAwait(false);
                _recorder.Record(Stopwatch.GetTimestamp() - intended);
                if (_recorder.Measuring)
                {
                    Interlocked.Increment(ref _reads);
                }

                return;
            }

            Stamp(buffer, intended, out var sequence);
            var result = await client.AppendAsync(buffer, null, cancellationToken).ConfigureAwait(false);
            var done = Stopwatch.GetTimestamp();
            _recorder.Record(done - intended);
            Volatile.Write(ref _recent[(Interlocked.Increment(ref _recentCount) - 1) % _recent.Length], result.Index);
            if (TrackAcks)
            {
                _acked.Enqueue(new Acked(result.Index, result.Term, sequence));
                var round = Volatile.Read(ref _round);
                if (round is not null && done > round.KillAt && result.Term > round.TermBefore)
                {
                    round.Acknowledged(done);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WalrusException or TimeoutException or IOException or OperationCanceledException)
        {
            _recorder.Error(e);
        }
    }

    /// <summary>Open loop: request i is due at start + i/rate; at most --clients in flight, further due requests are dropped (and counted).</summary>
    private async Task OpenLoopAsync(List<WalrusClient> clients, double rate, long start, long end, CancellationToken cancellationToken)
    {
        // Requests start on this loop without a thread-pool hop each (an append is queued by the SDK and returns a
        // task at once), so the generator's own scheduling adds little to the measured latency.
        var schedule = new OpenLoopSchedule(rate, start, Stopwatch.Frequency);
        var inFlight = 1; // the loop itself, until it stops sending
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        long next = 0;
        async Task OneAsync(WalrusClient client, long intended)
        {
            try
            {
                await OneOpAsync(client, (byte[])_filler.Clone(), intended, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (Interlocked.Decrement(ref inFlight) == 0)
                {
                    drained.TrySetResult();
                }
            }
        }

        while (!cancellationToken.IsCancellationRequested)
        {
            var now = Stopwatch.GetTimestamp();
            var due = schedule.DueBy(Math.Min(now, end - 1));
            for (; next < due; next++)
            {
                if (Volatile.Read(ref inFlight) > _s.Clients)
                {
                    _recorder.Error("DroppedInFlightBound");
                    continue;
                }

                Interlocked.Increment(ref inFlight);
                _ = OneAsync(clients[(int)(next % clients.Count)], schedule.IntendedAt(next));
            }

            if (now >= end)
            {
                break;
            }

            await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        }

        if (Interlocked.Decrement(ref inFlight) == 0)
        {
            drained.TrySetResult();
        }

        await drained.Task.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task TailAsync(WalrusClient client, ulong from, LatencyHistogram lag, Func<long> counted, long measureStart, long end, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var entry in client.TailAsync(from, cancellationToken).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                var span = entry.Payload.Span;
                if (span.Length >= 24 && BinaryPrimitives.ReadInt64LittleEndian(span) == _runId)
                {
                    var sent = BinaryPrimitives.ReadInt64LittleEndian(span[16..]);
                    if (sent >= measureStart && sent < end)
                    {
                        lock (lag)
                        {
                            lag.Record(now - sent);
                        }

                        counted();
                    }
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WalrusException or IOException)
        {
            _recorder.Error("Tail" + e.GetType().Name);
        }
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

        var options = new WalrusClientOptions();
        _configure(options);
        options.ClientName = "walrus-loadtest-probe";
        options.ConnectTimeout = ProbeTimeout;
        options.RequestTimeout = ProbeTimeout;
        options.MaxRetries = 0;
        options.CircuitBreakDuration = TimeSpan.FromMilliseconds(500);
        options.Validate();
        await using var probe = new WalrusClient(options);
        var lastKillAt = end - Ticks(LoadSettings.LastKillBeforeEnd);
        var next = measureStart + Ticks(LoadSettings.FirstKillAfter);
        var done = 0;
        try
        {
            for (var i = 1; i <= _s.Kills && next <= lastKillAt; i++)
            {
                await DelayUntilAsync(next, cancellationToken).ConfigureAwait(false);
                var leader = await WaitUntilReadyAsync(probe, i, Math.Min(Stopwatch.GetTimestamp() + Ticks(RestartLimit), lastKillAt), cancellationToken).ConfigureAwait(false);
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
                var limit = Math.Min(round.KillAt + Ticks(NewLeaderLimit), end);
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

                next = round.KillAt + Ticks(LoadSettings.KillInterval);
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

    /// <summary>Reads back every acknowledged index and checks that it holds this run's payload with the same sequence number.</summary>
    private async Task VerifyAsync(WalrusClient client, LoadReport report, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        ReportFailovers(report);

        var acked = _acked.ToArray();
        if (acked.Length == 0)
        {
            report.Notes.Add("failover: no acknowledged appends to verify");
            return;
        }

        var want = new Dictionary<ulong, long>(acked.Length);
        var conflicting = 0;
        foreach (var a in acked)
        {
            if (want.TryGetValue(a.Index, out var seq) && seq != a.Sequence)
            {
                conflicting++;
            }

            want[a.Index] = a.Sequence;
        }

        var lost = 0L;
        var checkedCount = 0L;
        var seen = new HashSet<long>();
        var duplicates = 0L;
        var from = want.Keys.Min();
        var last = want.Keys.Max();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        while (from <= last)
        {
            var page = await client.ReadRangeAsync(from, 0, 0, Consistency.Linearizable, null, limit.Token).ConfigureAwait(false);
            if (page.Entries.Count == 0)
            {
                break;
            }

            foreach (var e in page.Entries)
            {
                var span = e.Payload.Span;
                var ours = span.Length == _s.PayloadBytes && BinaryPrimitives.ReadInt64LittleEndian(span) == _runId;
                var seq = ours ? BinaryPrimitives.ReadInt64LittleEndian(span[8..]) : -1;
                if (ours && !seen.Add(seq))
                {
                    duplicates++;
                }

                if (want.TryGetValue(e.Index, out var expected))
                {
                    checkedCount++;
                    if (seq != expected)
                    {
                        lost++;
                    }
                }
            }

            from = page.Entries[^1].Index + 1;
        }

        lost += want.Count - checkedCount; // acknowledged indexes the log no longer has
        report.Notes.Add(string.Create(inv, $"failover: {want.Count:N0} acknowledged appends read back, {lost} lost or changed, {duplicates} stored twice, {conflicting} indexes acknowledged twice"));
        if (lost > 0)
        {
            ((SortedDictionary<string, long>)report.Errors)["AcknowledgedAppendLost"] = lost;
        }
    }
}

/// <summary>
/// One leader kill of the failover scenario. Published to the appending tasks before the kill; the first of them to
/// be acknowledged after <see cref="KillAt"/> in a term above <see cref="TermBefore"/> completes <see cref="FirstAck"/>.
/// </summary>
/// <param name="number">1-based round number.</param>
/// <param name="nodeId">The killed leader.</param>
/// <param name="pid">Its process id.</param>
/// <param name="termBefore">The leader's term when it was killed.</param>
/// <param name="killAt">Stopwatch timestamp taken just before the SIGKILL.</param>
internal sealed class FailoverRound(int number, ulong nodeId, int pid, ulong termBefore, long killAt)
{
    private readonly TaskCompletionSource _firstAck = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _firstAckAt;

    /// <summary>1-based round number.</summary>
    public int Number { get; } = number;

    /// <summary>The killed leader's node id.</summary>
    public ulong NodeId { get; } = nodeId;

    /// <summary>The killed leader's process id.</summary>
    public int Pid { get; } = pid;

    /// <summary>The leader's term when it was killed.</summary>
    public ulong TermBefore { get; } = termBefore;

    /// <summary>Stopwatch timestamp taken just before the SIGKILL.</summary>
    public long KillAt { get; } = killAt;

    /// <summary>Completes when an append is acknowledged in a newer term after the kill.</summary>
    public Task FirstAck => _firstAck.Task;

    /// <summary>Milliseconds from the kill to the first append acknowledged in a newer term, or null when none was.</summary>
    public double? FailoverMs => Interlocked.Read(ref _firstAckAt) is var at && at != 0 ? Stopwatch.GetElapsedTime(KillAt, at).TotalMilliseconds : null;

    /// <summary>Called for each append acknowledged after the kill in a newer term; the first one counts.</summary>
    /// <param name="timestamp">Stopwatch timestamp of the acknowledgement.</param>
    public void Acknowledged(long timestamp)
    {
        if (Interlocked.CompareExchange(ref _firstAckAt, timestamp, 0) == 0)
        {
            _firstAck.TrySetResult();
        }
    }
}
