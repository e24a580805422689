using System.Diagnostics;
using WalrusGossip.Client;

namespace WalrusGossip.LoadTest;

/// <summary>
/// The appends every scenario runs. Each simulated client is a concurrent task with its own append in flight, on
/// the shared load clients round-robin (<see cref="LoadClients"/>): closed loop (<see cref="LoadSettings.Clients"/>
/// tasks, each sending its next append when the last one is answered) or, with <see cref="LoadSettings.Rate"/>, open
/// loop (<see cref="OpenLoopSchedule"/>). Every payload is <see cref="LoadSettings.PayloadBytes"/> of random filler
/// stamped with the run id, a unique sequence number and the intended send timestamp (<see cref="PayloadStamp"/>).
/// Latency (from the intended send time) and errors go to the <see cref="Recorder"/>; the scenario may send a read
/// in place of an append and sees every acknowledged append.
/// </summary>
/// <param name="settings">The run's settings.</param>
/// <param name="recorder">Receives latency and errors.</param>
/// <param name="scenario">The run's scenario (reads, acknowledged appends).</param>
/// <param name="runId">The run id stamped into every payload.</param>
internal sealed class AppendLoad(LoadSettings settings, Recorder recorder, LoadScenario scenario, long runId)
{
    private readonly LoadSettings _s = settings;
    private readonly byte[] _filler = RandomFiller(settings.PayloadBytes);
    private long _sequence;

    /// <summary>Starts the load on the thread pool; no operation is sent after <see cref="RunWindow.End"/>.</summary>
    /// <param name="clients">The shared load clients (at least one).</param>
    /// <param name="window">The run's time line.</param>
    /// <param name="cancellationToken">Abandons the operations in flight.</param>
    /// <returns>Completes when every operation sent has been answered or abandoned; it does not fault (failures are recorded as errors).</returns>
    public Task Start(IReadOnlyList<WalrusClient> clients, RunWindow window, CancellationToken cancellationToken) =>
        _s.Rate is { } rate
            ? Task.Run(() => OpenLoopAsync(clients, rate, window.Start, window.End, cancellationToken), CancellationToken.None)
            : Task.WhenAll(Enumerable.Range(0, _s.Clients).Select(i => Task.Run(() => ClosedLoopAsync(clients[i % clients.Count], window.End, cancellationToken), CancellationToken.None)));

    private async Task ClosedLoopAsync(WalrusClient client, long end, CancellationToken cancellationToken)
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
            if (await scenario.TryReadAsync(client, intended, cancellationToken).ConfigureAwait(false))
            {
                return;
            }

            var sequence = Interlocked.Increment(ref _sequence);
            PayloadStamp.Write(buffer, runId, sequence, intended);
            var result = await client.AppendAsync(buffer, null, cancellationToken).ConfigureAwait(false);
            var done = Stopwatch.GetTimestamp();
            recorder.Record(done - intended);
            scenario.Appended(result, sequence, done);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is WalrusException or TimeoutException or IOException or OperationCanceledException)
        {
            recorder.Error(e);
        }
    }

    /// <summary>Open loop: request i is due at start + i/rate; at most --clients in flight, further due requests are dropped (and counted).</summary>
    private async Task OpenLoopAsync(IReadOnlyList<WalrusClient> clients, double rate, long start, long end, CancellationToken cancellationToken)
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
                    recorder.Error("DroppedInFlightBound");
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

    private static byte[] RandomFiller(int bytes)
    {
        var filler = new byte[bytes];
        Random.Shared.NextBytes(filler);
        return filler;
    }
}
