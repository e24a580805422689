namespace WalrusGossip.Raft;

/// <summary>
/// The node's view of its log: the stable part in <see cref="IRaftLogStorage"/> plus the unstable suffix
/// (and possibly a received snapshot) that the application has not yet persisted (etcd/raft's raftLog).
/// </summary>
internal sealed class RaftLog
{
    private readonly IRaftLogStorage _storage;

    // The unstable suffix: _unstableCount entries of _unstable from _unstableStart on, the first at index _unstableOffset.
    // The first _lent of them are lent to the outstanding Ready (LendUnstable): until ReleaseUnstable they are never
    // overwritten in place; a change that would overwrite them moves the suffix to a new array instead.
    private LogEntry[] _unstable = new LogEntry[16];
    private int _unstableStart;
    private int _unstableCount;
    private int _lent;
    private readonly List<LogEntry> _sliceScratch = [];
    private ulong _unstableOffset;
    private RaftSnapshot? _pendingSnapshot;

    public RaftLog(IRaftLogStorage storage, ulong commit, ulong applied)
    {
        _storage = storage;
        _unstableOffset = storage.LastIndex + 1;
        var snapshotIndex = storage.Snapshot.Index;
        RaftInvariantViolationException.Check(storage.FirstIndex <= snapshotIndex + 1, "storage first index must not pass its snapshot");
        Committed = Math.Max(commit, snapshotIndex);
        RaftInvariantViolationException.Check(Committed <= LastIndex, $"persisted commit {Committed} is beyond the last index {LastIndex}");
        Applied = Math.Max(applied, snapshotIndex);
        RaftInvariantViolationException.Check(Applied <= Committed, $"applied index {Applied} is beyond the commit index {Committed}");
    }

    /// <summary>Highest index known to be committed.</summary>
    public ulong Committed { get; private set; }

    /// <summary>Highest index the application has applied (advanced by <see cref="RaftNode.Advance"/>).</summary>
    public ulong Applied { get; set; }

    public ulong FirstIndex => _pendingSnapshot is not null ? _pendingSnapshot.Metadata.Index + 1 : _storage.FirstIndex;

    public ulong LastIndex
    {
        get
        {
            if (_unstableCount > 0)
            {
                return _unstableOffset + (ulong)_unstableCount - 1;
            }

            return _pendingSnapshot is not null ? _pendingSnapshot.Metadata.Index : _storage.LastIndex;
        }
    }

    public ulong LastTerm
    {
        get
        {
            RaftInvariantViolationException.Check(TryTerm(LastIndex, out var term), $"term of the last index {LastIndex} must be known");
            return term;
        }
    }

    public RaftSnapshot? PendingSnapshot => _pendingSnapshot;

    public bool HasUnstableEntries => _unstableCount > 0;

    /// <summary>Last index the application has made durable: <see cref="LastIndex"/> less the entries still unstable.</summary>
    public ulong LastStableIndex => _unstableCount > 0 ? _unstableOffset - 1 : LastIndex;

    /// <summary>
    /// Lends the unstable entries to a Ready (<see cref="Ready.Entries"/>) without copying them: the returned memory stays
    /// unchanged until <see cref="ReleaseUnstable"/>, whatever is appended or truncated meanwhile.
    /// </summary>
    public ReadOnlyMemory<LogEntry> LendUnstable()
    {
        _lent = _unstableCount;
        return new ReadOnlyMemory<LogEntry>(_unstable, _unstableStart, _unstableCount);
    }

    /// <summary>The Ready that borrowed the unstable entries was advanced: they may be moved and overwritten again.</summary>
    public void ReleaseUnstable() => _lent = 0;

    public bool TryTerm(ulong index, out ulong term)
    {
        term = 0;
        if (index + 1 < FirstIndex || index > LastIndex)
        {
            return false;
        }

        if (_pendingSnapshot is not null && index == _pendingSnapshot.Metadata.Index)
        {
            term = _pendingSnapshot.Metadata.Term;
            return true;
        }

        if (_unstableCount > 0 && index >= _unstableOffset)
        {
            term = _unstable[_unstableStart + (int)(index - _unstableOffset)].Term;
            return true;
        }

        return _storage.TryGetTerm(index, out term);
    }

    public ulong TermOrZero(ulong index) => TryTerm(index, out var term) ? term : 0;

    public bool MatchTerm(ulong index, ulong term) => TryTerm(index, out var actual) && actual == term;

    /// <summary>Paper §5.4.1: is a log ending at (<paramref name="lastIndex"/>, <paramref name="lastTerm"/>) at least as up to date as ours.</summary>
    public bool IsUpToDate(ulong lastIndex, ulong lastTerm)
    {
        var ourTerm = LastTerm;
        return lastTerm > ourTerm || (lastTerm == ourTerm && lastIndex >= LastIndex);
    }

    /// <summary>
    /// AppendEntries receiver rules (paper Figure 2, steps 2-5). Returns the index of the last new entry,
    /// or null when the log does not contain (<paramref name="prevIndex"/>, <paramref name="prevTerm"/>).
    /// <paramref name="firstChanged"/> is the first index whose entry was written (0 when none changed).
    /// </summary>
    public ulong? MaybeAppend(ulong prevIndex, ulong prevTerm, ulong commit, IReadOnlyList<LogEntry> entries, out ulong firstChanged)
    {
        firstChanged = 0;
        if (!MatchTerm(prevIndex, prevTerm))
        {
            return null;
        }

        var lastNew = prevIndex + (ulong)entries.Count;
        for (var i = 0; i < entries.Count; i++)
        {
            if (!MatchTerm(entries[i].Index, entries[i].Term))
            {
                if (BugSkipTruncateOnConflict)
                {
                    var keep = i;
                    while (keep < entries.Count && entries[keep].Index <= LastIndex)
                    {
                        keep++;
                    }

                    if (keep < entries.Count)
                    {
                        firstChanged = entries[keep].Index;
                        TruncateAndAppend(entries, keep);
                    }

                    break;
                }

                firstChanged = entries[i].Index;
                RaftInvariantViolationException.Check(firstChanged > Committed, $"entry {firstChanged} conflicts with the committed prefix ending at {Committed}");
                TruncateAndAppend(entries, i);
                break;
            }
        }

        CommitTo(Math.Min(commit, lastNew));
        return lastNew;
    }

    /// <summary>
    /// True when <see cref="MaybeAppend"/> with these arguments would cut stored (stable) entries at an index above
    /// <paramref name="damagedIndex"/>: the prefix matches and some entry conflicts with a stored one after it. A damaged
    /// follower must not do that cut before repair (the store cannot reopen a segment whose damage would survive it).
    /// </summary>
    /// <param name="prevIndex">The append's previous index.</param>
    /// <param name="prevTerm">The append's previous term.</param>
    /// <param name="entries">The append's entries, consecutive from <paramref name="prevIndex"/> + 1.</param>
    /// <param name="damagedIndex">The store's lowest damaged index; 0 (nothing damaged) always gives false.</param>
    public bool WouldTruncateAbove(ulong prevIndex, ulong prevTerm, IReadOnlyList<LogEntry> entries, ulong damagedIndex)
    {
        if (damagedIndex == 0 || !MatchTerm(prevIndex, prevTerm))
        {
            return false;
        }

        var stableLast = LastStableIndex;
        foreach (var entry in entries)
        {
            if (entry.Index > stableLast)
            {
                return false;
            }

            if (!MatchTerm(entry.Index, entry.Term))
            {
                return entry.Index > damagedIndex;
            }
        }

        return false;
    }

    /// <summary>Appends entries created by this node as leader (no truncation of committed entries allowed).</summary>
    public void Append(IReadOnlyList<LogEntry> entries)
    {
        if (entries.Count == 0)
        {
            return;
        }

        RaftInvariantViolationException.Check(entries[0].Index > Committed, $"append at {entries[0].Index} would overwrite the committed prefix ending at {Committed}");
        TruncateAndAppend(entries, 0);
    }

    public void CommitTo(ulong index)
    {
        if (index <= Committed)
        {
            return;
        }

        RaftInvariantViolationException.Check(index <= LastIndex, $"commit {index} is beyond the last index {LastIndex}");
        Committed = index;
    }

    /// <summary>Simulator-only injected bug: count replicas for entries of earlier terms.</summary>
    public bool BugCommitPreviousTerm { get; set; }

    /// <summary>Simulator-only injected bug: keep a conflicting suffix instead of truncating it.</summary>
    public bool BugSkipTruncateOnConflict { get; set; }

    /// <summary>Leader commit rule (paper §5.4.2): only an entry of the current term commits by counting replicas.</summary>
    public bool MaybeCommit(ulong index, ulong term)
    {
        if (index > Committed && (TermOrZero(index) == term || (BugCommitPreviousTerm && TermOrZero(index) != 0)))
        {
            CommitTo(index);
            return true;
        }

        return false;
    }

    /// <summary>Largest index at or below <paramref name="index"/> whose term is at most <paramref name="term"/> (the conflict hint).</summary>
    public ulong FindConflictByTerm(ulong index, ulong term)
    {
        while (index > 0)
        {
            if (!TryTerm(index, out var ourTerm) || ourTerm <= term)
            {
                return index;
            }

            index--;
        }

        return 0;
    }

    /// <summary>
    /// Entries in [<paramref name="low"/>, <paramref name="high"/>) up to <paramref name="maxBytes"/> (at least one), or
    /// null when compacted. The list is the caller's to keep (it goes into messages): never changed afterwards.
    /// </summary>
    public IReadOnlyList<LogEntry>? Slice(ulong low, ulong high, ulong maxBytes)
    {
        if (low >= high)
        {
            return [];
        }

        if (low < FirstIndex)
        {
            return null;
        }

        RaftInvariantViolationException.Check(high <= LastIndex + 1, $"slice [{low}, {high}) is beyond the last index {LastIndex}");
        if (low < _unstableOffset)
        {
            var stableHigh = Math.Min(high, _unstableOffset);
            var stored = _storage.Entries(low, stableHigh, maxBytes);
            RaftInvariantViolationException.Check(stored.Count > 0 && stored[0].Index == low, $"storage returned a wrong range for [{low}, {stableHigh})");
            if ((ulong)stored.Count < stableHigh - low || high <= _unstableOffset)
            {
                // Storage hands out a new list the caller may keep (IRaftLogStorage.Entries): no second copy.
                return stored;
            }

            _sliceScratch.AddRange(stored);
        }

        AddUnstable(low, high, maxBytes, _sliceScratch);
        var result = _sliceScratch.ToArray(); // one exact array: the message keeps it, the scratch list is reused
        _sliceScratch.Clear();
        return result;
    }

    /// <summary>
    /// <see cref="Slice"/> into a caller's list instead of a new one: the entries are copied into
    /// <paramref name="destination"/> (empty on entry), read from storage with <see cref="IRaftLogStorage.ReadEntries"/>.
    /// </summary>
    /// <returns>False when compacted (<paramref name="destination"/> stays empty).</returns>
    public bool SliceInto(ulong low, ulong high, ulong maxBytes, List<LogEntry> destination)
    {
        if (low >= high)
        {
            return true;
        }

        if (low < FirstIndex)
        {
            return false;
        }

        RaftInvariantViolationException.Check(high <= LastIndex + 1, $"slice [{low}, {high}) is beyond the last index {LastIndex}");
        if (low < _unstableOffset)
        {
            var stableHigh = Math.Min(high, _unstableOffset);
            _storage.ReadEntries(low, stableHigh, maxBytes, destination);
            RaftInvariantViolationException.Check(destination.Count > 0 && destination[0].Index == low, $"storage returned a wrong range for [{low}, {stableHigh})");
            if ((ulong)destination.Count < stableHigh - low || high <= _unstableOffset)
            {
                return true;
            }
        }

        AddUnstable(low, high, maxBytes, destination);
        return true;
    }

    /// <summary>Adds the unstable entries of [max(<paramref name="low"/>, first unstable), <paramref name="high"/>) to <paramref name="into"/>, which holds the stable part of the slice, within <paramref name="maxBytes"/> for the whole.</summary>
    private void AddUnstable(ulong low, ulong high, ulong maxBytes, List<LogEntry> into)
    {
        ulong bytes = 0;
        for (var i = 0; i < into.Count; i++)
        {
            bytes += into[i].SizeBytes;
        }

        for (var index = Math.Max(low, _unstableOffset); index < high; index++)
        {
            ref readonly var entry = ref _unstable[_unstableStart + (int)(index - _unstableOffset)];
            bytes += entry.SizeBytes;
            if (into.Count > 0 && bytes > maxBytes)
            {
                break;
            }

            into.Add(entry);
        }
    }

    /// <summary>Copies the committed entries the application has not yet been given, up to <paramref name="maxBytes"/>, into <paramref name="destination"/> (empty on entry).</summary>
    public void NextCommittedEntries(ulong maxBytes, List<LogEntry> destination)
    {
        var low = Math.Max(Applied + 1, FirstIndex);
        var high = Math.Min(Committed, ApplyLimit);
        if (low <= high)
        {
            SliceInto(low, high + 1, maxBytes, destination);
        }
    }

    public bool HasNextCommittedEntries => Math.Max(Applied + 1, FirstIndex) <= Math.Min(Committed, ApplyLimit);

    /// <summary>Highest index that may be applied (entries after it are unreadable until repaired); <see cref="ulong.MaxValue"/> for none.</summary>
    public ulong ApplyLimit { get; set; } = ulong.MaxValue;

    /// <summary>The application persisted entries up to (<paramref name="index"/>, <paramref name="term"/>).</summary>
    public void StableTo(ulong index, ulong term)
    {
        if (_unstableCount == 0 || index < _unstableOffset || !MatchTerm(index, term))
        {
            return;
        }

        var stable = (int)(index - _unstableOffset + 1);
        RaftInvariantViolationException.Check(_lent == 0, "entries lent to a Ready cannot become stable before it is advanced");
        Array.Clear(_unstable, _unstableStart, stable); // drop the payload references
        _unstableStart += stable;
        _unstableCount -= stable;
        if (_unstableCount == 0)
        {
            _unstableStart = 0;
        }

        _unstableOffset = index + 1;
    }

    public void StableSnapshotTo(ulong index)
    {
        if (_pendingSnapshot is not null && _pendingSnapshot.Metadata.Index == index)
        {
            _pendingSnapshot = null;
        }
    }

    /// <summary>Replaces the whole log with a snapshot received from the leader (paper §7).</summary>
    public void Restore(RaftSnapshot snapshot)
    {
        Committed = snapshot.Metadata.Index;
        TruncateUnstable(0);
        _unstableOffset = snapshot.Metadata.Index + 1;
        _pendingSnapshot = snapshot;
    }

    private void TruncateAndAppend(IReadOnlyList<LogEntry> entries, int from)
    {
        var after = entries[from].Index - 1;
        RaftInvariantViolationException.Check(after <= LastIndex, $"append at {after + 1} would leave a gap after {LastIndex}");
        if (after + 1 < _unstableOffset)
        {
            _unstableOffset = after + 1;
            TruncateUnstable(0);
        }
        else if (after + 1 < _unstableOffset + (ulong)_unstableCount)
        {
            TruncateUnstable((int)(after + 1 - _unstableOffset));
        }

        for (var i = from; i < entries.Count; i++)
        {
            RaftInvariantViolationException.Check(entries[i].Index == _unstableOffset + (ulong)_unstableCount, "appended entries must be contiguous");
            if (_unstableStart + _unstableCount == _unstable.Length)
            {
                MakeRoom();
            }

            _unstable[_unstableStart + _unstableCount++] = entries[i];
        }
    }

    /// <summary>Keeps the first <paramref name="keep"/> unstable entries; never overwrites lent ones (copy on write).</summary>
    private void TruncateUnstable(int keep)
    {
        if (keep < _lent)
        {
            // Later appends would overwrite entries the outstanding Ready still shows: leave that array to it.
            var fresh = new LogEntry[Math.Max(16, _unstable.Length)];
            Array.Copy(_unstable, _unstableStart, fresh, 0, keep);
            _unstable = fresh;
            _unstableStart = 0;
            _lent = 0;
        }
        else
        {
            Array.Clear(_unstable, _unstableStart + keep, _unstableCount - keep);
        }

        _unstableCount = keep;
        if (keep == 0)
        {
            _unstableStart = 0;
        }
    }

    /// <summary>The array is full to its end: move the entries to its front, or to a larger array (always when some are lent).</summary>
    private void MakeRoom()
    {
        if (_lent == 0 && _unstableCount <= _unstable.Length / 2)
        {
            Array.Copy(_unstable, _unstableStart, _unstable, 0, _unstableCount);
            Array.Clear(_unstable, _unstableCount, _unstableStart);
        }
        else
        {
            var larger = new LogEntry[_unstable.Length * 2];
            Array.Copy(_unstable, _unstableStart, larger, 0, _unstableCount);
            _unstable = larger; // a lent range stays intact in the old array, which the Ready keeps
            _lent = 0;
        }

        _unstableStart = 0;
    }
}
