namespace WalrusGossip.Node;

/// <summary>What <see cref="ClientSessionTable.Check"/> found for a (client, sequence) pair.</summary>
public enum SessionCheck
{
    /// <summary>Not seen before: apply the entry, then call <see cref="ClientSessionTable.Record"/>.</summary>
    New = 0,

    /// <summary>Already applied: answer with the original index instead of applying again.</summary>
    Duplicate = 1,

    /// <summary>
    /// Not above the highest sequence evicted from the client's window, and not remembered: the original answer may be gone,
    /// so reply "session expired" (§6.3). An evicted client is forgotten entirely and looks new, so size
    /// <see cref="ClientSessionTable.MaxClients"/> above the number of concurrently active clients.
    /// </summary>
    Expired = 2,
}

/// <summary>
/// Client-session deduplication for the replicated state machine (dissertation §6.3): remembers, per client,
/// the log index at which each recent sequence number was applied, so a retried append is answered with the
/// original index instead of being written twice. Bounded: at most <see cref="MaxClients"/> clients and
/// <see cref="MaxSequencesPerClient"/> sequences each. Eviction uses only log indexes (least recently applied
/// client first), never a clock, so every replica that applies the same log evicts the same sessions.
/// Update it only while applying committed entries, in log order; include it in checkpoints.
/// </summary>
public sealed class ClientSessionTable
{
    private const int TrimAbove = 16; // answers a session may keep capacity for while it holds none
    private readonly Dictionary<ulong, Session> _sessions = [];
    // Least recently recorded first. Records arrive in log order, so moving a session to the end keeps the list
    // sorted by last index: O(1) per record, no allocation after the session's first.
    private readonly LinkedList<ulong> _byActivity = new();

    /// <summary>Creates an empty table.</summary>
    /// <param name="maxClients">Clients remembered at once; at least 1. The least recently active one is evicted first.</param>
    /// <param name="maxSequencesPerClient">Recent sequences remembered per client; at least 1 (a client with one request in flight needs 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A bound is less than 1.</exception>
    public ClientSessionTable(int maxClients = 100_000, int maxSequencesPerClient = 16)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxClients, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSequencesPerClient, 1);
        MaxClients = maxClients;
        MaxSequencesPerClient = maxSequencesPerClient;
    }

    /// <summary>Maximum number of clients remembered.</summary>
    public int MaxClients { get; }

    /// <summary>Maximum number of sequences remembered per client.</summary>
    public int MaxSequencesPerClient { get; }

    /// <summary>Number of clients currently remembered.</summary>
    public int Count => _sessions.Count;

    /// <summary>Looks up a request before applying it.</summary>
    /// <param name="clientId">The client's id.</param>
    /// <param name="sequence">The client's request sequence number (increasing per client).</param>
    /// <param name="originalIndex">For <see cref="SessionCheck.Duplicate"/>: the index the request was applied at; otherwise 0.</param>
    /// <returns>Whether to apply the request, answer it from the table, or report an expired session.</returns>
    public SessionCheck Check(ulong clientId, ulong sequence, out ulong originalIndex)
    {
        originalIndex = 0;
        if (!_sessions.TryGetValue(clientId, out var session))
        {
            return SessionCheck.New;
        }

        if (session.BySequence.TryGetValue(sequence, out var index))
        {
            originalIndex = index;
            return SessionCheck.Duplicate;
        }

        // Eviction is oldest-applied first, so every applied sequence above the highest evicted one is still
        // remembered: an absent sequence there was never applied (a pipelined or retried request), so it is new.
        return sequence > session.HighestEvicted ? SessionCheck.New : SessionCheck.Expired;
    }

    /// <summary>Records that (<paramref name="clientId"/>, <paramref name="sequence"/>) was applied at <paramref name="index"/>.</summary>
    /// <param name="clientId">The client's id.</param>
    /// <param name="sequence">The request's sequence number.</param>
    /// <param name="index">The log index the request was applied at; not below any index recorded before.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is below the last recorded index (entries must be applied in log order).</exception>
    public void Record(ulong clientId, ulong sequence, ulong index)
    {
        if (_sessions.TryGetValue(clientId, out var session))
        {
            if (index < session.LastIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(index), "Sessions must be updated in log order.");
            }

            _byActivity.Remove(session.Node);
        }
        else
        {
            session = new Session(clientId);
            _sessions[clientId] = session;
        }

        session.Recent.Enqueue((sequence, index));
        session.BySequence[sequence] = index;
        while (session.Recent.Count > MaxSequencesPerClient)
        {
            var (evicted, _) = session.Recent.Dequeue();
            session.BySequence.Remove(evicted);
            session.HighestEvicted = Math.Max(session.HighestEvicted, evicted);
        }

        session.Peak = Math.Max(session.Peak, session.Recent.Count);
        session.HighestSequence = Math.Max(session.HighestSequence, sequence);
        session.LastIndex = index;
        _byActivity.AddLast(session.Node);
        while (_sessions.Count > MaxClients)
        {
            var oldest = _byActivity.First!;
            _byActivity.RemoveFirst();
            _sessions.Remove(oldest.Value);
        }
    }

    /// <summary>
    /// Forgets the answers of a session's sequences below <paramref name="sequence"/>: the client has acknowledged
    /// them (it will never send them again), so they need no memory (Raft dissertation §6.3). A later request with
    /// such a sequence is <see cref="SessionCheck.Expired"/>. Must be applied in log order on every replica, like
    /// <see cref="Record"/>.
    /// </summary>
    /// <param name="clientId">Session id; unknown sessions are ignored.</param>
    /// <param name="sequence">Lowest sequence the client may still send.</param>
    public void ForgetBelow(ulong clientId, ulong sequence)
    {
        if (sequence <= 1 || !_sessions.TryGetValue(clientId, out var session))
        {
            return;
        }

        // Answers are queued in apply order, which for one session is sequence order but for rare retries.
        while (session.Recent.TryPeek(out var oldest) && oldest.Sequence < sequence)
        {
            session.Recent.Dequeue();
            session.BySequence.Remove(oldest.Sequence);
            session.HighestEvicted = Math.Max(session.HighestEvicted, oldest.Sequence);
        }

        session.HighestEvicted = Math.Max(session.HighestEvicted, sequence - 1);
        // Give memory back only after a burst: trimming on every empty table would regrow it on the next request.
        if (session.BySequence.Count == 0 && session.Peak > TrimAbove)
        {
            session.BySequence.TrimExcess();
            session.Recent.TrimExcess();
            session.Peak = 0;
        }
    }

    /// <summary>
    /// Writes the whole table (every session with its remembered answers, its highest evicted sequence and its last
    /// index, least recently active first) for a state-machine snapshot; <see cref="ReadFrom"/> rebuilds an identical table.
    /// </summary>
    /// <param name="writer">Destination.</param>
    internal void WriteTo(StateWriter writer)
    {
        writer.WriteCount(_sessions.Count);
        foreach (var clientId in _byActivity)
        {
            var session = _sessions[clientId];
            writer.BeginRecord(4);
            writer.WriteUInt64(clientId);
            writer.WriteUInt64(session.HighestEvicted);
            writer.WriteUInt64(session.LastIndex);
            writer.WriteCount(session.Recent.Count);
            foreach (var (sequence, index) in session.Recent)
            {
                writer.BeginRecord(2);
                writer.WriteUInt64(sequence);
                writer.WriteUInt64(index);
            }
        }
    }

    /// <summary>Replaces the table's contents with what <see cref="WriteTo"/> wrote.</summary>
    /// <param name="reader">Source, positioned at the table.</param>
    /// <exception cref="StateMachineSnapshotException">The bytes are truncated or describe an impossible table.</exception>
    internal void ReadFrom(ref StateReader reader)
    {
        _sessions.Clear();
        _byActivity.Clear();
        var count = reader.ReadCount(minBytesEach: 28);
        for (var i = 0; i < count; i++)
        {
            reader.ReadRecord(4);
            var clientId = reader.ReadUInt64();
            var session = new Session(clientId)
            {
                HighestEvicted = reader.ReadUInt64(),
                LastIndex = reader.ReadUInt64(),
            };
            var records = reader.ReadCount(minBytesEach: 16);
            for (var r = 0; r < records; r++)
            {
                reader.ReadRecord(2);
                var sequence = reader.ReadUInt64();
                var index = reader.ReadUInt64();
                session.Recent.Enqueue((sequence, index));
                session.BySequence[sequence] = index;
                session.HighestSequence = Math.Max(session.HighestSequence, sequence);
            }

            if (!_sessions.TryAdd(clientId, session))
            {
                throw new StateMachineSnapshotException($"client session {clientId} appears twice");
            }

            session.Peak = session.Recent.Count;
            _byActivity.AddLast(session.Node);
        }
    }

    /// <summary>Replaces this table's contents with <paramref name="other"/>'s (same bounds); <paramref name="other"/> must not be used afterwards.</summary>
    /// <param name="other">A table built by <see cref="ReadFrom"/>.</param>
    internal void CopyFrom(ClientSessionTable other)
    {
        var ordered = new List<Session>(other._sessions.Count);
        foreach (var clientId in other._byActivity)
        {
            ordered.Add(other._sessions[clientId]);
        }

        other._byActivity.Clear(); // detaches the nodes so this table's list can take them
        _sessions.Clear();
        _byActivity.Clear();
        foreach (var session in ordered)
        {
            _sessions[session.Node.Value] = session;
            _byActivity.AddLast(session.Node);
        }
    }

    /// <summary>The remembered (client, sequence, index) records, least recently active client first (for tests).</summary>
    /// <returns>The records in replay order.</returns>
    internal List<(ulong ClientId, ulong Sequence, ulong Index)> Export()
    {
        var records = new List<(ulong, ulong, ulong)>();
        foreach (var clientId in _byActivity)
        {
            foreach (var (sequence, index) in _sessions[clientId].Recent)
            {
                records.Add((clientId, sequence, index));
            }
        }

        return records;
    }

    private sealed class Session(ulong clientId)
    {
        public LinkedListNode<ulong> Node { get; } = new(clientId);

        public Queue<(ulong Sequence, ulong Index)> Recent { get; } = new();

        public ulong HighestSequence { get; set; }

        public Dictionary<ulong, ulong> BySequence { get; } = [];

        public ulong HighestEvicted { get; set; }

        public ulong LastIndex { get; set; }

        /// <summary>Most answers held at once since the last trim.</summary>
        public int Peak { get; set; }
    }
}
