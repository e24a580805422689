using System.Collections.Concurrent;
using System.Globalization;
using WalrusGossip.Client;

namespace WalrusGossip.LoadTest;

/// <summary>
/// The failover scenario's check that leader kills lose no acknowledged append: <see cref="Acknowledged"/> keeps the
/// index and sequence number of every append acknowledged during the run (thread-safe), and <see cref="VerifyAsync"/>
/// reads the log back and checks that each of those indexes holds this run's payload (<see cref="PayloadStamp"/>,
/// of the run's payload size) with the same sequence number.
/// </summary>
/// <param name="runId">The run id in every payload.</param>
/// <param name="payloadBytes">The run's payload size; an entry of another size is not this run's.</param>
internal sealed class FailoverVerifier(long runId, int payloadBytes)
{
    /// <summary>How long the read-back may take in all.</summary>
    private static readonly TimeSpan ReadBackLimit = TimeSpan.FromSeconds(60);

    private readonly ConcurrentQueue<Acked> _acked = new();

    private readonly record struct Acked(ulong Index, long Sequence);

    /// <summary>Keeps one acknowledged append for the read-back.</summary>
    /// <param name="index">The log index it was acknowledged at.</param>
    /// <param name="sequence">Its sequence number in the run.</param>
    public void Acknowledged(ulong index, long sequence) => _acked.Enqueue(new Acked(index, sequence));

    /// <summary>
    /// Reads the log from the lowest to the highest acknowledged index (linearizable pages) and adds a note with the
    /// appends read back, those lost or changed, those stored twice and the indexes acknowledged twice (with
    /// different sequence numbers). An acknowledged index the log no longer has counts as lost. Lost or changed
    /// appends are also the report's <c>AcknowledgedAppendLost</c> error, which fails the run.
    /// </summary>
    /// <param name="client">A load client.</param>
    /// <param name="report">The run's report; its <see cref="LoadReport.Errors"/> is the sorted dictionary <see cref="LoadReport.From"/> made.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>Completes when the note (and error) are added.</returns>
    /// <exception cref="WalrusException">A read failed.</exception>
    /// <exception cref="OperationCanceledException">The read-back took more than 60 s, or the run was cancelled.</exception>
    public async Task VerifyAsync(WalrusClient client, LoadReport report, CancellationToken cancellationToken)
    {
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
        limit.CancelAfter(ReadBackLimit);
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
                var ours = PayloadStamp.TryRead(span, runId, out var sequence, out _) && span.Length == payloadBytes;
                var seq = ours ? sequence : -1;
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
        report.Notes.Add(string.Create(CultureInfo.InvariantCulture, $"failover: {want.Count:N0} acknowledged appends read back, {lost} lost or changed, {duplicates} stored twice, {conflicting} indexes acknowledged twice"));
        if (lost > 0)
        {
            ((SortedDictionary<string, long>)report.Errors)["AcknowledgedAppendLost"] = lost;
        }
    }
}
