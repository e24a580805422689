using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using WalrusGossip.Client;
using WalrusGossip.Client.Diagnostics;

namespace WalrusGossip.LoadTest;

/// <summary>
/// Runs one scenario. Each simulated client is a concurrent task; tasks share one <see cref="WalrusClient"/> per 64
/// (one multiplexed connection per agent and 64 append sessions each), the way an application process would share its
/// client: 1,000 clients then mean 16 connections rather than 1,000 TLS handshakes on a 2-core box.
/// Every payload starts with the run id, a unique sequence number and the send timestamp, so the failover scenario can
/// check every acknowledged append against what the log holds and the tail scenario can measure delivery lag.
/// </summary>
internal sealed class LoadRunner
{
    private const int ClientsPerSdkClient = 64;
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
    private long _sequence;
    private long _recentCount;
    private long _reads;
    private long _killAt;
    private ulong _termBeforeKill;
    private long _firstNewTermAck;

    public LoadRunner(LoadSettings settings, Action<WalrusClientOptions> configure, TextWriter progress, LocalCluster? local)
    {
        _s = settings;
        _configure = configure;
        _progress = progress;
        _local = local;
        _filler = new byte[settings.PayloadBytes];
        Random.Shared.NextBytes(_filler);
    }

    private readonly record struct Acked(ulong Index, ulong Term, long Sequence);

    private bool TrackAcks => _s.Scenario == "failover";

    public async Task<LoadReport> RunAsync(CancellationToken cancellationToken)
    {
        var clients = new List<WalrusClient>();
        using var run = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        try
        {
            for (var left = _s.Clients; left > 0; left -= ClientsPerSdkClient)
            {
                var options = new WalrusClientOptions();
                _configure(options);
                options.MaxConcurrentAppends = Math.Max(1, Math.Min(ClientsPerSdkClient, left));
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
                : Task.WhenAll(Enumerable.Range(0, _s.Clients).Select(i => Task.Run(() => ClosedLoopAsync(clients[i / ClientsPerSdkClient], i, end, run.Token), CancellationToken.None)));
            var failover = _s.Scenario == "failover"
                ? Task.Run(() => KillLeaderAsync(clients[0], measureStart + ((end - measureStart) / 3), run.Token), CancellationToken.None)
                : Task.CompletedTask;

            var measuredEnd = await ProgressAsync(load, start, measureStart, end, run.Token).ConfigureAwait(false);

            // Bounded drain: requests still in flight get LoadSettings.Drain, then are cancelled.
            if (await Task.WhenAny(load, Task.Delay(LoadSettings.Drain, CancellationToken.None)).ConfigureAwait(false) != load)
            {
                _recorder.Errors.AddOrUpdate("AbandonedAfterDrain", 1, (_, n) => n + 1);
                await run.CancelAsync().ConfigureAwait(false);
            }

            await load.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            await failover.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (tails.Count > 0)
            {
                await Task.Delay(500, CancellationToken.None).ConfigureAwait(false);
                await tailStop.CancelAsync().ConfigureAwait(false);
                await Task.WhenAll(tails).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }

            if (_local is not null && idleRss is not null)
            {
                await Task.Delay(2000, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                var after = _local.ResidentMiB();
                report0Notes.Add(string.Create(CultureInfo.InvariantCulture,
                    $"agent RSS MiB (idle / peak under load / 2 s after): {string.Join(", ", idleRss.Keys.Order().Select(id => $"node {id} {idleRss[id]:F0} / {(_peakRss.TryGetValue(id, out var p) ? p : 0):F0} / {(after.TryGetValue(id, out var a) ? a.ToString("F0", CultureInfo.InvariantCulture) : "dead")}"))}"));
            }

            var seconds = Stopwatch.GetElapsedTime(measureStart, measuredEnd).TotalSeconds;
            var total = _recorder.Total;
            var report = LoadReport.From(_s.Scenario, _s.Clients, _s.PayloadBytes, seconds, total.Count, _s.Scenario == "tail" ? tailLag : total, _recorder.Errors);
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
                var killAt = Interlocked.Read(ref _killAt);
                if (killAt != 0 && done > killAt && result.Term > Volatile.Read(ref _termBeforeKill))
                {
                    Interlocked.CompareExchange(ref _firstNewTermAck, done, 0);
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
        var schedule = new OpenLoopSchedule(rate, start, Stopwatch.Frequency);
        var inFlight = 0;
        var running = new ConcurrentDictionary<Task, byte>();
        long next = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            var now = Stopwatch.GetTimestamp();
            var due = schedule.DueBy(Math.Min(now, end - 1));
            for (; next < due; next++)
            {
                var intended = schedule.IntendedAt(next);
                if (Volatile.Read(ref inFlight) >= _s.Clients)
                {
                    _recorder.Error("DroppedInFlightBound");
                    continue;
                }

                Interlocked.Increment(ref inFlight);
                var client = clients[(int)(next % clients.Count)];
                var task = Task.Run(async () =>
                {
                    try
                    {
                        await OneOpAsync(client, (byte[])_filler.Clone(), intended, cancellationToken).ConfigureAwait(false);
                    }
                    finally
                    {
                        Interlocked.Decrement(ref inFlight);
                    }
                }, CancellationToken.None);
                running.TryAdd(task, 0);
                _ = task.ContinueWith(t => running.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            if (now >= end)
            {
                break;
            }

            await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        }

        await Task.WhenAll(running.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
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

    private async Task KillLeaderAsync(WalrusClient client, long at, CancellationToken cancellationToken)
    {
        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }

        var status = await client.GetStatusAsync(cancellationToken).ConfigureAwait(false);
        if (status.LeaderId == 0 || _local is null)
        {
            await _progress.WriteLineAsync("failover: no leader known, nothing killed").ConfigureAwait(false);
            return;
        }

        Volatile.Write(ref _termBeforeKill, status.Term);
        Interlocked.Exchange(ref _killAt, Stopwatch.GetTimestamp());
        _local.KillAgent(status.LeaderId);
        await _progress.WriteLineAsync($"failover: SIGKILL leader node {status.LeaderId} (pid {_local.PidOf(status.LeaderId)}, term {status.Term})").ConfigureAwait(false);
    }

    /// <summary>Reads back every acknowledged index and checks that it holds this run's payload with the same sequence number.</summary>
    private async Task VerifyAsync(WalrusClient client, LoadReport report, CancellationToken cancellationToken)
    {
        var inv = CultureInfo.InvariantCulture;
        var killAt = Interlocked.Read(ref _killAt);
        var first = Interlocked.Read(ref _firstNewTermAck);
        report.Notes.Add(killAt == 0
            ? "failover: the leader was not killed"
            : first == 0
                ? "failover: no append was committed by a new leader after the kill"
                : string.Create(inv, $"failover: {Stopwatch.GetElapsedTime(killAt, first).TotalMilliseconds:F0} ms from SIGKILL of the leader to the first append committed in a new term"));

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
