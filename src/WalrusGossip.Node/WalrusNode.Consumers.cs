using Microsoft.Extensions.Logging;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>One entry handed to a consumer instance by <see cref="WalrusNode.ConsumerFetch"/>.</summary>
/// <param name="Sequence">Its stream sequence.</param>
/// <param name="Index">Its log index (committed and applied).</param>
/// <param name="DeliveryCount">1 the first time this leader delivers it, more after an ack timeout sent it again.</param>
public readonly record struct ConsumerDelivery(ulong Sequence, ulong Index, int DeliveryCount);

/// <summary>Outcome of <see cref="WalrusNode.ConsumerFetch"/>.</summary>
/// <param name="Status">Ok; NotLeader (with <paramref name="LeaderId"/>); NotFound (no such consumer).</param>
/// <param name="Deliveries">The entries, by sequence; empty when nothing is due.</param>
/// <param name="Term">The leader's term: deliveries of one term start with count 1 in ascending sequence order.</param>
/// <param name="LeaderId">The known leader, or 0.</param>
/// <param name="CompactedBefore">Non-zero when retention had removed undelivered entries: every sequence below it that was never delivered is lost to retention.</param>
public sealed record ConsumerFetchResult(RequestStatus Status, IReadOnlyList<ConsumerDelivery> Deliveries, ulong Term, ulong LeaderId, ulong CompactedBefore = 0);

/// <summary>Outcome of <see cref="WalrusNode.ConsumerAck"/> and <see cref="WalrusNode.ChangeConsumer"/>.</summary>
/// <param name="Status">Ok; NotLeader; NotFound; InvalidArgument; Retry.</param>
/// <param name="AckFloor">The consumer's acknowledged position on this leader after the call (replicated soon after).</param>
/// <param name="LeaderId">The known leader, or 0.</param>
/// <param name="Message">Detail for errors.</param>
public sealed record ConsumerResult(RequestStatus Status, ulong AckFloor, ulong LeaderId, string Message);

/// <summary>What the leader knows of one consumer beyond the replicated state (<see cref="WalrusNode.ConsumerPending"/>).</summary>
/// <param name="Floor">The leader's ack floor (at least the replicated one).</param>
/// <param name="Pending">Entries delivered and not yet acknowledged.</param>
/// <param name="Redeliveries">Entries delivered again after their ack timeout, under this leader.</param>
public readonly record struct ConsumerProgress(ulong Floor, int Pending, long Redeliveries);

/// <summary>
/// Durable consumers (issue 19; JetStream's pull consumers with explicit acks, Kafka's committed offsets). The replicated
/// state keeps each consumer's ack floor (<see cref="ConsumerTable"/>). The leader hands entries to instances: a fetch
/// gets the consumer's entries that are due (delivered to no one yet, or delivered and unacknowledged past the ack
/// timeout), each to one instance only, so several instances share the work. An instance's ack is cumulative over what
/// it was given: every entry delivered to it at or below the acked sequence is done. The floor advances over contiguous
/// acknowledged sequences and is replicated as a <see cref="EntryType.Consumer"/> entry, at most one in flight per
/// consumer. A new leader starts from the replicated floor, so entries acknowledged but not yet replicated are delivered
/// again: at-least-once, never skipped.
/// </summary>
public sealed partial class WalrusNode
{
    private readonly Dictionary<(string Stream, string Name), Cursor> _cursors = [];
    private readonly List<(ulong Index, ulong Term, Action<ConsumerResult> Done)> _pendingConsumerChanges = [];
    private ulong _cursorsTerm;
    private bool _bugFloorSkipsUnacked;

    /// <summary>The durable consumers and their replicated ack floors as of the applied index (immutable).</summary>
    public ConsumerTable Consumers => _stateMachine.Consumers;

    /// <summary>Consumer changes (create, delete, ack floor) this node proposed as leader.</summary>
    public long ConsumerEntriesProposed { get; private set; }

    /// <summary>
    /// Creates or deletes a durable consumer: one <see cref="EntryType.Consumer"/> entry; leader only. Answers once the
    /// entry is applied here (Ok), or NotLeader, InvalidArgument, or Retry when the proposal was refused or lost.
    /// </summary>
    /// <param name="change">A Create or Delete change.</param>
    /// <param name="done">Receives the outcome on the node loop.</param>
    public void ChangeConsumer(ConsumerChange change, Action<ConsumerResult> done)
    {
        ArgumentNullException.ThrowIfNull(change);
        ArgumentNullException.ThrowIfNull(done);
        var status = Raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            done(new ConsumerResult(RequestStatus.NotLeader, 0, status.Leader, "send the request to the leader"));
            return;
        }

        if (change.Kind == ConsumerChangeKind.Ack || change.Validate() is { } invalid)
        {
            done(new ConsumerResult(RequestStatus.InvalidArgument, 0, Id, change.Kind == ConsumerChangeKind.Ack ? "acks go through ConsumerAck" : change.Validate()!));
            return;
        }

        var result = Raft.Propose(change.Encode(), EntryType.Consumer);
        if (result.Status != ProposalStatus.Accepted)
        {
            done(new ConsumerResult(RequestStatus.Retry, 0, Id, $"the leader cannot take the change now ({result.Status}); retry"));
            return;
        }

        ConsumerEntriesProposed++;
        _pendingConsumerChanges.Add((result.Index, result.Term, done));
        LogConsumerChange(_logger, change.Kind, change.Stream, change.Name, result.Index);
        ProcessReady();
    }

    /// <summary>
    /// Hands up to <paramref name="maxCount"/> due entries of a consumer to instance <paramref name="instance"/>: first
    /// those whose ack timeout expired (to whichever instance asks), then the next undelivered ones in sequence order.
    /// Leader only; only applied entries are delivered. Called on the node loop; answers at once (the caller polls).
    /// </summary>
    /// <param name="stream">The consumer's stream.</param>
    /// <param name="name">The consumer.</param>
    /// <param name="instance">The asking instance (any id the client picks; acks must name the same).</param>
    /// <param name="maxCount">Most entries, 1 to 10,000.</param>
    /// <returns>The deliveries, or why there are none.</returns>
    public ConsumerFetchResult ConsumerFetch(string stream, string name, ulong instance, int maxCount)
    {
        var cursor = CursorOf(stream, name, out var refusal);
        if (cursor is null)
        {
            return new ConsumerFetchResult(refusal, [], Raft.Term, Raft.Status.Leader);
        }

        maxCount = Math.Clamp(maxCount, 1, 10_000);
        var now = _clock.Now;
        var deliveries = new List<ConsumerDelivery>();
        foreach (var (sequence, d) in cursor.Pending)
        {
            if (deliveries.Count >= maxCount)
            {
                break;
            }

            if (d.Deadline <= now)
            {
                var again = d with { Instance = instance, Deadline = now + cursor.AckTimeout, Count = d.Count + 1 };
                cursor.Redelivered.Add(sequence);
                deliveries.Add(new ConsumerDelivery(sequence, again.Index, again.Count));
                cursor.Redeliveries++;
            }
        }

        foreach (var sequence in cursor.Redelivered)
        {
            var d = cursor.Pending[sequence];
            cursor.Pending[sequence] = d with { Instance = instance, Deadline = now + cursor.AckTimeout, Count = d.Count + 1 };
        }

        cursor.Redelivered.Clear();
        ulong compactedBefore = 0;
        if (deliveries.Count < maxCount)
        {
            var positions = new List<StreamPosition>();
            var first = _stateMachine.Streams.Locate(stream, cursor.Next, maxCount - deliveries.Count, _applied, positions);
            if (first > cursor.Next)
            {
                // Retention removed entries no instance had been given: they cannot be delivered; move past them.
                SkipCompacted(cursor, first);
                compactedBefore = first;
            }

            foreach (var (sequence, index) in positions)
            {
                cursor.Pending[sequence] = new Delivery(instance, now + cursor.AckTimeout, 1, index);
                cursor.Next = sequence + 1;
                deliveries.Add(new ConsumerDelivery(sequence, index, 1));
            }
        }

        deliveries.Sort((a, b) => a.Sequence.CompareTo(b.Sequence));
        return new ConsumerFetchResult(RequestStatus.Ok, deliveries, Raft.Term, Id, compactedBefore);
    }

    /// <summary>
    /// Acknowledges, for instance <paramref name="instance"/>, every entry of the consumer delivered to it at or below
    /// <paramref name="upToSequence"/> (cumulative); the floor advances over contiguous acknowledged sequences and is
    /// replicated. Leader only; answers at once with the leader's floor.
    /// </summary>
    /// <param name="stream">The consumer's stream.</param>
    /// <param name="name">The consumer.</param>
    /// <param name="instance">The instance the entries were delivered to.</param>
    /// <param name="upToSequence">Highest sequence acknowledged.</param>
    /// <returns>The floor after the ack, or why it was refused.</returns>
    public ConsumerResult ConsumerAck(string stream, string name, ulong instance, ulong upToSequence)
    {
        var cursor = CursorOf(stream, name, out var refusal);
        if (cursor is null)
        {
            return new ConsumerResult(refusal, 0, Raft.Status.Leader, refusal == RequestStatus.NotFound ? $"no consumer '{name}' on stream '{stream}'" : "send the request to the leader");
        }

        var done = new List<ulong>();
        foreach (var (sequence, d) in cursor.Pending)
        {
            if (sequence > upToSequence)
            {
                break;
            }

            if (d.Instance == instance)
            {
                done.Add(sequence);
            }
        }

        foreach (var sequence in done)
        {
            cursor.Pending.Remove(sequence); // only this ack's entries: the older acked set may be large behind a dead instance
            cursor.Acked.Add(sequence);
        }

        if (_bugFloorSkipsUnacked && cursor.Acked.Count > 0)
        {
            SkipTo(cursor, cursor.Acked.Max); // injected bug: over whatever another instance still holds
        }

        AdvanceFloor(cursor);
        ProposeFloor(stream, name, cursor);
        return new ConsumerResult(RequestStatus.Ok, cursor.Floor, Id, string.Empty);
    }

    /// <summary>The leader's view of a consumer's progress, or null (not leader, or no such consumer).</summary>
    /// <param name="stream">The consumer's stream.</param>
    /// <param name="name">The consumer.</param>
    /// <returns>Floor, pending entries and redeliveries.</returns>
    public ConsumerProgress? ConsumerPending(string stream, string name) =>
        CursorOf(stream, name, out _) is { } c ? new ConsumerProgress(c.Floor, c.Pending.Count, c.Redeliveries) : null;

    /// <summary>After entries were applied: answers consumer changes, and keeps the leader's cursors in step with the replicated floors.</summary>
    private void CompleteConsumerChanges()
    {
        for (var i = _pendingConsumerChanges.Count - 1; i >= 0; i--)
        {
            var (index, term, done) = _pendingConsumerChanges[i];
            if (index > _applied)
            {
                continue;
            }

            _pendingConsumerChanges.RemoveAt(i);
            done(_raftLog!.TryGetTerm(index, out var held) && held == term
                ? new ConsumerResult(RequestStatus.Ok, 0, Id, string.Empty)
                : new ConsumerResult(RequestStatus.Retry, 0, Raft.Status.Leader, "the change was lost to a leader change; retry"));
        }

        if (_cursors.Count == 0)
        {
            return;
        }

        var table = _stateMachine.Consumers;
        foreach (var (key, cursor) in _cursors.ToList())
        {
            if (table.Find(key.Stream, key.Name) is not { } state)
            {
                _cursors.Remove(key); // deleted
                continue;
            }

            cursor.Replicated = state.AckFloor;
            if (cursor.ProposedIndex != 0 && cursor.ProposedIndex <= _applied)
            {
                cursor.ProposedIndex = 0;
            }

            if (state.AckFloor > cursor.Floor)
            {
                // A floor replicated by an earlier leader that this one had not applied when it took over.
                SkipTo(cursor, state.AckFloor);
            }

            ProposeFloor(key.Stream, key.Name, cursor);
        }
    }

    private Cursor? CursorOf(string stream, string name, out RequestStatus refusal)
    {
        var status = Raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            _cursors.Clear();
            refusal = RequestStatus.NotLeader;
            return null;
        }

        if (_cursorsTerm != status.Term)
        {
            _cursors.Clear(); // a new leadership starts from the replicated floors
            _cursorsTerm = status.Term;
        }

        if (_stateMachine.Consumers.Find(stream, name) is not { } state)
        {
            _cursors.Remove((stream, name));
            refusal = RequestStatus.NotFound;
            return null;
        }

        refusal = RequestStatus.Ok;
        if (!_cursors.TryGetValue((stream, name), out var cursor))
        {
            cursor = new Cursor { Floor = state.AckFloor, Next = state.AckFloor + 1, AckTimeout = state.AckTimeout, Replicated = state.AckFloor };
            _cursors[(stream, name)] = cursor;
        }

        cursor.AckTimeout = state.AckTimeout;
        cursor.Replicated = state.AckFloor;
        return cursor;
    }

    private static void AdvanceFloor(Cursor cursor)
    {
        while (cursor.Acked.Count > 0 && cursor.Acked.Min == cursor.Floor + 1)
        {
            cursor.Acked.Remove(cursor.Floor + 1);
            cursor.Floor++;
        }
    }

    /// <summary>Moves the cursor's floor to <paramref name="floor"/>, forgetting deliveries and acks at or below it.</summary>
    private static void SkipTo(Cursor cursor, ulong floor)
    {
        cursor.Floor = floor;
        cursor.Next = Math.Max(cursor.Next, floor + 1);
        foreach (var sequence in cursor.Pending.Keys.Where(s => s <= floor).ToList())
        {
            cursor.Pending.Remove(sequence);
        }

        cursor.Acked.RemoveWhere(s => s <= floor);
        AdvanceFloor(cursor);
    }

    private static void SkipCompacted(Cursor cursor, ulong firstRetained)
    {
        cursor.CompactedSkipped += firstRetained - cursor.Next;
        cursor.Next = firstRetained;
        if (cursor.Pending.Count == 0 || cursor.Pending.Keys.First() >= firstRetained)
        {
            // Nothing below the gap is still out: the floor may pass it.
            cursor.Acked.RemoveWhere(s => s < firstRetained);
            cursor.Floor = Math.Max(cursor.Floor, firstRetained - 1);
            AdvanceFloor(cursor);
        }
    }

    private void ProposeFloor(string stream, string name, Cursor cursor)
    {
        if (cursor.Floor <= cursor.Replicated || cursor.ProposedIndex != 0 || Raft.Status.Role != RaftRole.Leader)
        {
            return;
        }

        var result = Raft.Propose(new ConsumerChange(ConsumerChangeKind.Ack, stream, name, cursor.Floor).Encode(), EntryType.Consumer);
        if (result.Status == ProposalStatus.Accepted)
        {
            ConsumerEntriesProposed++;
            cursor.ProposedIndex = result.Index;
            ProcessReady();
        }
    }

    [LoggerMessage(EventId = 95, Level = LogLevel.Information, Message = "consumer: proposed {Kind} {Stream}/{Name} at index {Index}")]
    private static partial void LogConsumerChange(ILogger logger, ConsumerChangeKind kind, string stream, string name, ulong index);

    private readonly record struct Delivery(ulong Instance, TimeSpan Deadline, int Count, ulong Index);

    /// <summary>The leader's dispatch state of one consumer (forgotten when leadership ends).</summary>
    private sealed class Cursor
    {
        public ulong Floor { get; set; }

        public ulong Next { get; set; }

        public ulong Replicated { get; set; }

        public ulong ProposedIndex { get; set; }

        public TimeSpan AckTimeout { get; set; }

        public long Redeliveries { get; set; }

        public ulong CompactedSkipped { get; set; }

        public SortedDictionary<ulong, Delivery> Pending { get; } = [];

        public SortedSet<ulong> Acked { get; } = [];

        public List<ulong> Redelivered { get; } = [];
    }
}
