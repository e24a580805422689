namespace WalrusGossip.Raft;

/// <summary>
/// An in-memory <see cref="IRaftLogStorage"/> for tests and the simulator (etcd/raft's MemoryStorage).
/// The application writes to it from each <see cref="Ready"/>: <see cref="Append(ReadOnlySpan{LogEntry})"/>, <see cref="SetHardState"/>,
/// <see cref="ApplySnapshot"/>; it compacts with <see cref="CreateSnapshot"/>.
/// </summary>
public sealed class MemoryRaftLogStorage : IRaftLogStorage
{
    private readonly List<LogEntry> _entries = [];
    private HardState _hardState;
    private RaftSnapshot _snapshot = RaftSnapshot.Empty;

    /// <summary>Creates an empty storage: no entries, empty hard state, no snapshot.</summary>
    public MemoryRaftLogStorage()
    {
    }

    /// <summary>
    /// Creates the storage of a founding member: entry 1 (term 1) is a <see cref="EntryType.ConfigChange"/>
    /// holding <paramref name="config"/>, committed. Every founding member must bootstrap with the same config
    /// so their logs agree; nodes added later start from an empty storage and learn the log from the leader.
    /// </summary>
    /// <param name="config">The initial membership; at least one voter.</param>
    /// <returns>The bootstrapped storage.</returns>
    /// <exception cref="ArgumentException"><paramref name="config"/> has no voter.</exception>
    public static MemoryRaftLogStorage Bootstrap(ClusterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Voters.Count == 0)
        {
            throw new ArgumentException("The initial configuration needs at least one voter.", nameof(config));
        }

        var storage = new MemoryRaftLogStorage();
        storage.Append([new LogEntry(1, 1, EntryType.ConfigChange, config.Encode())]);
        storage.SetHardState(new HardState(1, 0, 1));
        return storage;
    }

    /// <inheritdoc />
    public ulong FirstIndex => _snapshot.Metadata.Index + 1;

    /// <inheritdoc />
    public ulong LastIndex => _snapshot.Metadata.Index + (ulong)_entries.Count;

    /// <inheritdoc />
    public SnapshotMetadata Snapshot => _snapshot.Metadata;

    /// <summary>The hard state last stored with <see cref="SetHardState"/>.</summary>
    public HardState HardState => _hardState;

    /// <inheritdoc />
    public RaftInitialState InitialState() => new(_hardState);

    /// <inheritdoc />
    public bool TryGetTerm(ulong index, out ulong term)
    {
        var snapIndex = _snapshot.Metadata.Index;
        if (index == snapIndex)
        {
            term = _snapshot.Metadata.Term;
            return true;
        }

        if (index < snapIndex || index > LastIndex)
        {
            term = 0;
            return false;
        }

        term = _entries[(int)(index - FirstIndex)].Term;
        return true;
    }

    /// <inheritdoc />
    public IReadOnlyList<LogEntry> Entries(ulong low, ulong high, ulong maxBytes)
    {
        var result = new List<LogEntry>((int)Math.Min(high > low ? high - low : 0, 64));
        ReadEntries(low, high, maxBytes, result);
        return result;
    }

    /// <inheritdoc />
    public void ReadEntries(ulong low, ulong high, ulong maxBytes, List<LogEntry> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (low < FirstIndex || high > LastIndex + 1 || low >= high)
        {
            throw new ArgumentOutOfRangeException(nameof(low), $"Range [{low}, {high}) is outside [{FirstIndex}, {LastIndex + 1}).");
        }

        var start = (int)(low - FirstIndex);
        var count = (int)(high - low);
        ulong bytes = 0;
        for (var i = 0; i < count; i++)
        {
            var entry = _entries[start + i];
            bytes += entry.SizeBytes;
            if (i > 0 && bytes > maxBytes)
            {
                break;
            }

            destination.Add(entry);
        }
    }

    /// <inheritdoc />
    public RaftSnapshot GetSnapshot() => _snapshot;

    /// <summary>Stores the hard state of a <see cref="Ready"/>.</summary>
    /// <param name="hardState">The state to persist.</param>
    public void SetHardState(HardState hardState) => _hardState = hardState;

    /// <summary>
    /// Appends entries, first discarding any stored suffix from the first new index on (a follower's
    /// conflicting entries, paper §5.3). Entries already covered by the snapshot are skipped.
    /// </summary>
    /// <param name="entries">Contiguous entries; the first index must not exceed <see cref="LastIndex"/> + 1.</param>
    /// <exception cref="RaftInvariantViolationException">The entries would leave a gap or are not contiguous.</exception>
    public void Append(IReadOnlyList<LogEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        for (var i = 0; i < entries.Count; i++)
        {
            AppendOne(entries[i], i == 0 ? null : entries[i - 1].Index);
        }
    }

    /// <summary>
    /// Appends entries, as <see cref="Append(IReadOnlyList{LogEntry})"/> does, from a span such as
    /// <see cref="Ready.Entries"/> (copied: the span may be reused after the call).
    /// </summary>
    /// <param name="entries">Contiguous entries; the first index must not exceed <see cref="LastIndex"/> + 1.</param>
    /// <exception cref="RaftInvariantViolationException">The entries would leave a gap or are not contiguous.</exception>
    public void Append(ReadOnlySpan<LogEntry> entries)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            AppendOne(entries[i], i == 0 ? null : entries[i - 1].Index);
        }
    }

    private void AppendOne(in LogEntry entry, ulong? previousIndex)
    {
        RaftInvariantViolationException.Check(previousIndex is null || entry.Index == previousIndex + 1, "appended entries must be contiguous");
        if (entry.Index < FirstIndex)
        {
            return;
        }

        RaftInvariantViolationException.Check(entry.Index <= LastIndex + 1, $"append at {entry.Index} would leave a gap after {LastIndex}");
        var position = (int)(entry.Index - FirstIndex);
        if (position < _entries.Count)
        {
            _entries.RemoveRange(position, _entries.Count - position);
        }

        _entries.Add(entry);
    }

    /// <summary>Installs a snapshot received from the leader, discarding every entry (the log restarts after it).</summary>
    /// <param name="snapshot">The snapshot of a <see cref="Ready"/>.</param>
    /// <returns>False when the stored snapshot is already newer, in which case nothing changes.</returns>
    public bool ApplySnapshot(RaftSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Metadata.Index <= _snapshot.Metadata.Index)
        {
            return false;
        }

        _snapshot = snapshot;
        _entries.Clear();
        return true;
    }

    /// <summary>Records a checkpoint the application took at an applied index, keeping the log after it.</summary>
    /// <param name="index">Applied index the checkpoint covers; in (<see cref="Snapshot"/>.Index, <see cref="LastIndex"/>].</param>
    /// <param name="config">Membership as of <paramref name="index"/>.</param>
    /// <param name="data">Checkpoint bytes.</param>
    /// <returns>The stored snapshot.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not newer than the current snapshot or is beyond the log.</exception>
    public RaftSnapshot CreateSnapshot(ulong index, ClusterConfig config, ReadOnlyMemory<byte> data)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (index <= _snapshot.Metadata.Index || index > LastIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"Snapshot index {index} is outside ({_snapshot.Metadata.Index}, {LastIndex}].");
        }

        TryGetTerm(index, out var term);
        var previousFirst = FirstIndex;
        _snapshot = new RaftSnapshot(new SnapshotMetadata(index, term, config), data);
        _entries.RemoveRange(0, (int)(index + 1 - previousFirst));
        return _snapshot;
    }
}
