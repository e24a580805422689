using System.Buffers.Binary;
using WalrusGossip.Storage.Records;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>What applying one committed entry meant to the state machine.</summary>
public enum AppliedKind
{
    /// <summary>An internal entry (configuration change, leader no-op, checkpoint marker) or a payload that is not an append command: readers skip it.</summary>
    Internal,

    /// <summary>A client append applied for the first time (or one without a session): readers serve it.</summary>
    Application,

    /// <summary>A second copy of a retried append whose first copy is at <see cref="ApplyOutcome.OriginalIndex"/>: readers skip it.</summary>
    Duplicate,

    /// <summary>
    /// An append whose sequence its session no longer remembers (its client acknowledged it, or it is older than the
    /// session's window): it may be a late copy of an append applied before, so it is not applied. Readers skip it and
    /// its client is told the session expired (Raft dissertation §6.3).
    /// </summary>
    Expired,
}

/// <summary>Outcome of <see cref="LogStateMachine.Apply"/>.</summary>
/// <param name="Kind">What the entry was.</param>
/// <param name="OriginalIndex">The index a client is told its append is at: the entry's own index, or for a duplicate the first copy's.</param>
/// <param name="ClientId">The append's session id (0 for none, and for internal entries).</param>
/// <param name="Sequence">The append's sequence number within its session.</param>
/// <param name="StreamSequence">The append's per-stream sequence (<see cref="StreamIndex"/>; for a duplicate the first copy's); 0 when it names no stream or is not applied.</param>
public readonly record struct ApplyOutcome(AppliedKind Kind, ulong OriginalIndex, ulong ClientId = 0, ulong Sequence = 0, ulong StreamSequence = 0);

/// <summary>
/// The replicated state machine of a WalrusGossip node: everything that is derived from the committed log, applied
/// in log order and identical on every replica that applied the same prefix. It owns the client session table
/// (Raft dissertation §6.3: a retried append is answered with its first index and never served twice), the bounded
/// set of duplicate copies that readers skip, the decoding of the append command (session fields, stream tag,
/// application bytes) and its own snapshot encoding for checkpoints and InstallSnapshot.
/// </summary>
/// <remarks>
/// <para>The node applies committed entries to it on the node loop; the simulator's checker runs its own instance over
/// the committed log as the reference model. Nobody else decodes append payloads.</para>
/// <para>Not thread-safe: mutate it from one thread. <see cref="Duplicates"/> is an immutable copy that readers on other
/// threads may hold.</para>
/// </remarks>
public sealed class LogStateMachine
{
    /// <summary>Default number of client sessions remembered at once (least recently active evicted first).</summary>
    public const int DefaultMaxClients = 10_000;

    /// <summary>
    /// Default recent sequences remembered per client. A client may pipeline many appends (the SDK allows concurrent
    /// calls on one session), so sequences can be applied out of order; the window must exceed its in-flight count or a
    /// late sequence reads as expired. Worst case memory: 10,000 clients x 1,024 sequences x 16 bytes = 160 MiB.
    /// </summary>
    public const int DefaultMaxSequencesPerClient = 1024;

    /// <summary>
    /// Default number of duplicate indexes remembered. Duplicates arise only when a retried append was proposed twice
    /// across a leader change, so they are rare; past the bound the oldest is forgotten (and would be served by reads).
    /// </summary>
    public const int DefaultMaxDuplicates = 65_536;

    private const uint SnapshotMagic = 0x314D5357; // "WSM1" little-endian
    private const uint SnapshotVersion = 5; // 5 is MessagePack; 4 added the consumers, 3 the stream index, 2 the security policy; 1-4 are still read
    private const uint LegacySnapshotVersion = 4; // the last little-endian layout
    private const int HeaderBytes = 8; // magic and version

    private readonly ClientSessionTable _sessions;
    private readonly int _maxDuplicates;
    private readonly List<ulong> _duplicates = []; // ascending: entries are applied in index order
    private DuplicateSet _published = DuplicateSet.Empty;

    /// <summary>Creates an empty state machine (nothing applied).</summary>
    /// <param name="maxClients">Sessions remembered at once; at least 1.</param>
    /// <param name="maxSequencesPerClient">Sequences remembered per session; at least 1.</param>
    /// <param name="maxDuplicates">Duplicate indexes remembered; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A bound is below 1.</exception>
    public LogStateMachine(int maxClients = DefaultMaxClients, int maxSequencesPerClient = DefaultMaxSequencesPerClient, int maxDuplicates = DefaultMaxDuplicates)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDuplicates, 1);
        _sessions = new ClientSessionTable(maxClients, maxSequencesPerClient);
        _maxDuplicates = maxDuplicates;
    }

    /// <summary>Highest index applied (0 before anything).</summary>
    public ulong AppliedIndex { get; private set; }

    /// <summary>Term of the entry at <see cref="AppliedIndex"/> (0 before anything).</summary>
    public ulong AppliedTerm { get; private set; }

    /// <summary>
    /// The cluster configuration as of <see cref="AppliedIndex"/>: the newest applied configuration entry's, or the one
    /// given to <see cref="Restore"/>. A checkpoint records it (Raft §7: a snapshot carries the configuration of its
    /// last index); the Raft core's own configuration may be newer (it adopts a change when the entry is appended).
    /// </summary>
    public ClusterConfig Configuration { get; private set; } = ClusterConfig.Empty;

    /// <summary>The authorization state as of <see cref="AppliedIndex"/> (immutable; safe to read from any thread).</summary>
    public SecurityPolicy Security
    {
        get => Volatile.Read(ref _security);
        private set => Volatile.Write(ref _security, value);
    }

    private SecurityPolicy _security = SecurityPolicy.Empty;

    /// <summary>The durable consumers and their acknowledged positions as of <see cref="AppliedIndex"/> (immutable; safe to read from any thread).</summary>
    public ConsumerTable Consumers
    {
        get => Volatile.Read(ref _consumers);
        private set => Volatile.Write(ref _consumers, value);
    }

    private ConsumerTable _consumers = ConsumerTable.Empty;

    /// <summary>Injected bug <c>checkpoint-drops-security</c> (simulator only): snapshots carry an empty policy.</summary>
    internal bool BugDropSecurityFromSnapshots { get; set; }

    /// <summary>Injected bug <c>duplicate-takes-stream-sequence</c> (simulator only): a duplicate copy is numbered in its stream too, leaving a gap readers never see filled.</summary>
    internal bool BugDuplicateTakesStreamSequence { get; set; }

    /// <summary>Client sessions currently remembered.</summary>
    public int SessionCount => _sessions.Count;

    /// <summary>The duplicate indexes, as an immutable set safe to read from any thread; replaced (not changed) when one is added or pruned.</summary>
    public DuplicateSet Duplicates => _published;

    /// <summary>Looks up an incoming append before proposing it (dissertation §6.3).</summary>
    /// <param name="clientId">Session id, non-zero.</param>
    /// <param name="sequence">The append's sequence number.</param>
    /// <param name="originalIndex">For <see cref="SessionCheck.Duplicate"/>, the index it was applied at.</param>
    /// <returns>Whether it is new, already applied, or too old to tell.</returns>
    public SessionCheck CheckSession(ulong clientId, ulong sequence, out ulong originalIndex) => _sessions.Check(clientId, sequence, out originalIndex);

    /// <summary>Applies one committed entry. Entries at or below <see cref="AppliedIndex"/> are ignored (reported as internal).</summary>
    /// <param name="entry">The next committed entry, in index order.</param>
    /// <returns>What the entry meant, and the index its client is told.</returns>
    public ApplyOutcome Apply(in LogEntry entry)
    {
        if (entry.Index <= AppliedIndex)
        {
            return new ApplyOutcome(AppliedKind.Internal, entry.Index);
        }

        AppliedIndex = entry.Index;
        AppliedTerm = entry.Term;
        if (entry.Type == EntryType.ConfigChange && ClusterConfig.TryDecode(entry.Payload.Span, out var config))
        {
            Configuration = config!;
        }

        if (entry.Type == EntryType.Security && SecurityChange.TryDecode(entry.Payload.Span, out var change))
        {
            Security = Security.With(change!); // malformed changes are ignored by every replica alike
        }

        if (entry.Type == EntryType.Consumer && ConsumerChange.TryDecode(entry.Payload.Span, out var consumerChange))
        {
            Consumers = Consumers.With(consumerChange!, entry.Index);
        }

        var payload = entry.Payload.Span;
        if (entry.Type != EntryType.Normal || !AppendCommand.TryDecode(payload, out var clientId, out var sequence, out var acknowledged, out var dataOffset))
        {
            return new ApplyOutcome(AppliedKind.Internal, entry.Index);
        }

        var streamBytes = AppendCommand.StreamBytesOf(payload);
        var stream = streamBytes.IsEmpty ? null : Streams.NameOf(streamBytes); // the held name: no string per entry
        if (clientId != 0)
        {
            _sessions.ForgetBelow(clientId, Math.Min(acknowledged, sequence));
            switch (_sessions.Check(clientId, sequence, out var first))
            {
                case SessionCheck.Duplicate:
                    AddDuplicate(entry.Index);
                    if (BugDuplicateTakesStreamSequence && stream is not null)
                    {
                        Streams.Append(stream, entry.Index, payload.Length - dataOffset);
                    }

                    return new ApplyOutcome(AppliedKind.Duplicate, first, clientId, sequence, stream is null ? 0 : Streams.SequenceOf(stream, first));
                case SessionCheck.Expired:
                    AddDuplicate(entry.Index);
                    return new ApplyOutcome(AppliedKind.Expired, entry.Index, clientId, sequence);
            }

            _sessions.Record(clientId, sequence, entry.Index);
        }

        var streamSequence = stream is null ? 0 : Streams.Append(stream, entry.Index, payload.Length - dataOffset);
        return new ApplyOutcome(AppliedKind.Application, entry.Index, clientId, sequence, streamSequence);
    }

    /// <summary>The per-stream index as of <see cref="AppliedIndex"/> (issue 19); readers on any thread may use it.</summary>
    public StreamIndex Streams { get; } = new();

    /// <summary>
    /// Decodes the application part of a Normal entry's payload: its stream tag and application bytes (the append
    /// command of <see cref="AppendCommand"/>). Readers use this, never their own decoding.
    /// </summary>
    /// <param name="payload">A Normal entry's payload.</param>
    /// <param name="stream">The stream tag, or null when the append named none.</param>
    /// <param name="data">The application bytes (a slice of <paramref name="payload"/>).</param>
    /// <returns>False when the payload is not an append command (readers skip such entries).</returns>
    public static bool TryDecodeAppend(ReadOnlyMemory<byte> payload, out string? stream, out ReadOnlyMemory<byte> data)
    {
        if (!AppendCommand.TryDecode(payload.Span, out _, out _, out var offset))
        {
            stream = null;
            data = default;
            return false;
        }

        stream = AppendCommand.StreamOf(payload.Span);
        data = payload[offset..];
        return true;
    }

    /// <summary>True when the applied entry at <paramref name="index"/> is a duplicate copy that readers skip.</summary>
    /// <param name="index">An applied index.</param>
    /// <returns>Whether it is a remembered duplicate.</returns>
    public bool IsDuplicate(ulong index) => _published.Contains(index);

    /// <summary>Forgets duplicate indexes below <paramref name="firstRetainedIndex"/>: those entries are no longer in the log.</summary>
    /// <param name="firstRetainedIndex">The log's first retained index after compaction.</param>
    public void PruneBelow(ulong firstRetainedIndex)
    {
        Streams.TrimBelow(firstRetainedIndex);
        var drop = 0;
        while (drop < _duplicates.Count && _duplicates[drop] < firstRetainedIndex)
        {
            drop++;
        }

        if (drop > 0)
        {
            _duplicates.RemoveRange(0, drop);
            _published = new DuplicateSet([.. _duplicates]);
        }
    }

    /// <summary>
    /// Encodes the whole state as of <see cref="AppliedIndex"/>: magic "WSM1" and version 5 (u32 little-endian each),
    /// then one MessagePack array (<see cref="StateFormat.MessagePack"/>) of applied index, applied term, the session
    /// table, the duplicate indexes, the security policy, the stream index (<see cref="StreamIndex.WriteTo"/>) and the
    /// consumers, then a CRC-32C (u32 little-endian) of everything before it. Versions 1-4 (the little-endian
    /// <see cref="StateFormat.Legacy"/> layout of releases up to 0.3, which added the security policy in 2, the stream
    /// index in 3 and the consumers in 4) are still read, with an empty policy, stream index or consumer table where
    /// they lack one.
    /// </summary>
    /// <returns>The snapshot bytes, for a checkpoint or an InstallSnapshot.</returns>
    public byte[] EncodeSnapshot() => EncodeSnapshot(StateFormat.MessagePack);

    /// <summary>
    /// <see cref="EncodeSnapshot()"/> in either layout: <see cref="StateFormat.Legacy"/> writes version 4, the snapshot
    /// of 0.3 (what tests of the upgrade path restore from).
    /// </summary>
    internal byte[] EncodeSnapshot(StateFormat format)
    {
        var writer = new StateWriter(format);
        writer.BeginRecord(7);
        writer.WriteUInt64(AppliedIndex);
        writer.WriteUInt64(AppliedTerm);
        _sessions.WriteTo(writer);
        writer.WriteCount(_duplicates.Count);
        foreach (var index in _duplicates)
        {
            writer.WriteUInt64(index);
        }

        (BugDropSecurityFromSnapshots ? SecurityPolicy.Empty : Security).WriteTo(writer);
        Streams.WriteTo(writer);
        Consumers.WriteTo(writer);

        var body = writer.Written;
        var bytes = new byte[HeaderBytes + body.Length + 4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, SnapshotMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), format == StateFormat.MessagePack ? SnapshotVersion : LegacySnapshotVersion);
        body.CopyTo(bytes.AsSpan(HeaderBytes));
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(HeaderBytes + body.Length), Crc32C.Compute(bytes.AsSpan(0, HeaderBytes + body.Length)));
        return bytes;
    }

    /// <summary>Replaces the whole state with a snapshot made by <see cref="EncodeSnapshot()"/> (on this or another replica, of this or an earlier release).</summary>
    /// <param name="snapshot">The snapshot bytes.</param>
    /// <param name="configuration">The cluster configuration as of the snapshot's index (kept beside it, in the checkpoint or InstallSnapshot metadata); null for none.</param>
    /// <exception cref="StateMachineSnapshotException">Truncated, CRC mismatch, unknown magic or version, or impossible contents; the state is unchanged.</exception>
    public void Restore(ReadOnlyMemory<byte> snapshot, ClusterConfig? configuration = null)
    {
        if (snapshot.Length < HeaderBytes + 4 + 1)
        {
            throw new StateMachineSnapshotException($"a state-machine snapshot is at least {HeaderBytes + 5} bytes; this one is {snapshot.Length}");
        }

        var span = snapshot.Span;
        var stored = BinaryPrimitives.ReadUInt32LittleEndian(span[^4..]);
        if (Crc32C.Compute(span[..^4]) != stored)
        {
            throw new StateMachineSnapshotException("the state-machine snapshot fails its CRC-32C");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(span) != SnapshotMagic)
        {
            throw new StateMachineSnapshotException("not a state-machine snapshot (bad magic)");
        }

        var version = BinaryPrimitives.ReadUInt32LittleEndian(span[4..]);
        if (version is not (1 or 2 or 3 or LegacySnapshotVersion or SnapshotVersion))
        {
            throw new StateMachineSnapshotException($"state-machine snapshot version {version} is not supported (this build reads 1-{SnapshotVersion})");
        }

        var body = snapshot[HeaderBytes..^4];
        var reader = version == SnapshotVersion ? new StateReader(body, StateFormat.MessagePack) : new StateReader(body.Span);
        reader.ReadRecord(7);
        var applied = reader.ReadUInt64();
        var term = reader.ReadUInt64();
        var sessions = new ClientSessionTable(_sessions.MaxClients, _sessions.MaxSequencesPerClient);
        sessions.ReadFrom(ref reader);
        var count = reader.ReadCount(minBytesEach: 8);
        var duplicates = new List<ulong>(count);
        for (var i = 0; i < count; i++)
        {
            var index = reader.ReadUInt64();
            if (index > applied || (duplicates.Count > 0 && index <= duplicates[^1]))
            {
                throw new StateMachineSnapshotException($"duplicate index {index} is out of order or above the applied index {applied}");
            }

            duplicates.Add(index);
        }

        var security = version >= 2 ? SecurityPolicy.ReadFrom(ref reader) : SecurityPolicy.Empty;
        var streams = version >= 3 ? StreamIndex.ReadFrom(ref reader, applied) : new StreamIndex();
        var consumers = version >= 4 ? ConsumerTable.ReadFrom(ref reader) : ConsumerTable.Empty;
        if (reader.Remaining != 0)
        {
            throw new StateMachineSnapshotException($"{reader.Remaining} unexpected bytes after the state");
        }

        Security = security;
        Streams.ReplaceWith(streams);
        Consumers = consumers;

        _sessions.CopyFrom(sessions);
        _duplicates.Clear();
        _duplicates.AddRange(duplicates);
        _published = new DuplicateSet([.. _duplicates]);
        AppliedIndex = applied;
        AppliedTerm = term;
        Configuration = configuration ?? ClusterConfig.Empty;
    }

    private void AddDuplicate(ulong index)
    {
        _duplicates.Add(index);
        if (_duplicates.Count > _maxDuplicates)
        {
            _duplicates.RemoveAt(0);
        }

        _published = new DuplicateSet([.. _duplicates]);
    }
}

/// <summary>An immutable, sorted set of duplicate log indexes (see <see cref="LogStateMachine.Duplicates"/>); safe to share across threads.</summary>
public sealed class DuplicateSet
{
    private readonly ulong[] _sorted;

    internal DuplicateSet(ulong[] sorted) => _sorted = sorted;

    /// <summary>The empty set.</summary>
    public static DuplicateSet Empty { get; } = new([]);

    /// <summary>Number of indexes.</summary>
    public int Count => _sorted.Length;

    /// <summary>True when <paramref name="index"/> is a duplicate copy.</summary>
    /// <param name="index">A log index.</param>
    /// <returns>Whether readers must skip it.</returns>
    public bool Contains(ulong index) => _sorted.Length != 0 && Array.BinarySearch(_sorted, index) >= 0;
}
