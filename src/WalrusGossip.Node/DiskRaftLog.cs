using System.Runtime.InteropServices;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.Checkpoints;

namespace WalrusGossip.Node;

/// <summary>
/// The adapter that lets the Raft core read its log from <see cref="NodeStorage"/> (the read side,
/// <see cref="IRaftLogStorage"/>) and that persists each <see cref="Ready"/> into it (the write side), honouring the
/// contract that the Ready's snapshot, entries and hard state are durable before its messages are sent.
/// </summary>
/// <remarks>
/// Hard state: term and vote are saved (atomic replace, fsynced) whenever either changes. The commit index is saved
/// with them but not on every advance: Raft's persistent state is term, vote and log (paper Figure 2), and a stale
/// commit index after a restart is safe, it is relearned from the leader.
/// </remarks>
public sealed class DiskRaftLog : IRaftLogStorage
{
    /// <summary>Payload bytes of recent entries kept in memory (see <see cref="Entries"/>).</summary>
    internal const long TailCacheBytes = 2L << 20;

    private readonly NodeStorage _storage;
    private readonly List<LogEntry> _tail = []; // the newest entries, contiguous up to LastIndex, from _tailStart on
    private int _tailStart;
    private long _tailBytes;
    private HardState _hardState;
    private RaftSnapshot _snapshot;

    /// <summary>Reads the hard state and newest checkpoint of an open <see cref="NodeStorage"/>.</summary>
    /// <param name="storage">Open storage; its log must be in inline-write or always mode for durable Saves.</param>
    /// <exception cref="RaftInvariantViolationException">The newest checkpoint's configuration cannot be decoded.</exception>
    public DiskRaftLog(NodeStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        _storage = storage;
        _hardState = storage.HardState.Load();
        _snapshot = RaftSnapshot.Empty;
        if (storage.LatestCheckpoint is { } checkpoint)
        {
            if (!ClusterConfig.TryDecode(checkpoint.Configuration.Span, out var config))
            {
                throw new RaftInvariantViolationException($"checkpoint {checkpoint.Index} holds an undecodable cluster configuration");
            }

            _snapshot = new RaftSnapshot(new SnapshotMetadata(checkpoint.Index, checkpoint.Term, config!), checkpoint.State);
            CompleteInterruptedInstall();
        }

        RefuseCommitLostWithUnsyncedTail();
    }

    /// <summary>
    /// Under <see cref="DurabilityMode.None"/> and <see cref="DurabilityMode.Interval"/> a crash may take the log's
    /// tail (appends were acknowledged before an fdatasync) while the hard state, written durably at each term or vote
    /// change, records a commit index past what is left. Raft cannot go on from there (etcd's raft panics likewise): the
    /// node may have lost entries it acknowledged, so start-up refuses, saying why and what to do, instead of the bare
    /// invariant message the Raft core would give.
    /// </summary>
    /// <exception cref="RaftInvariantViolationException">The commit index passes the last index under a non-durable policy.</exception>
    private void RefuseCommitLostWithUnsyncedTail()
    {
        var mode = _storage.Log.Options.Durability.Mode;
        if (mode != DurabilityMode.Always && _hardState.Commit > LastIndex)
        {
            throw new RaftInvariantViolationException(
                $"persisted commit {_hardState.Commit} is beyond the last index {LastIndex}: the log's tail was lost in a crash under durability " +
                $"{mode.ToString().ToLowerInvariant()} (appends are acknowledged before an fdatasync), so this node may have lost entries it acknowledged. " +
                "Move its data directory away and start it again: it catches up from the leader by snapshot.");
        }
    }

    /// <summary>
    /// True when opening found the newest checkpoint ahead of a log that does not hold its index with its term, and
    /// replaced that log: an InstallSnapshot crashed after its checkpoint was durable and before the old log was
    /// replaced (see <see cref="CompleteInterruptedInstall"/>).
    /// </summary>
    public bool CompletedInterruptedInstall { get; private set; }

    /// <summary>
    /// Finishes an InstallSnapshot that a crash interrupted. Installing writes the checkpoint first, then replaces the
    /// log (paper §7: the follower discards its log when the snapshot's last entry is not in it). A local checkpoint
    /// always covers entries the log holds with the same term (it is taken from applied entries, and retention never
    /// deletes past it), so a newest checkpoint whose index the log lacks, or holds with another term, can only be a
    /// received snapshot whose second step did not happen: the stale log is dropped and the log starts after it.
    /// </summary>
    private void CompleteInterruptedInstall()
    {
        var log = _storage.Log;
        var index = _snapshot.Metadata.Index;
        if (log.FirstIndex > index)
        {
            return; // the log starts after the checkpoint: nothing stale below it
        }

        if (index <= log.LastIndex && log.TermAt(index) == _snapshot.Metadata.Term)
        {
            return;
        }

        if (log.LastIndex >= log.FirstIndex)
        {
            log.TruncateSuffix(log.FirstIndex);
        }

        log.TruncatePrefix(index + 1);
        CompletedInterruptedInstall = true;
    }

    /// <summary>True when nothing was ever written: no entries, no checkpoint, no hard state.</summary>
    public bool IsEmpty => _storage.Log.LastIndex == 0 && _snapshot.IsEmpty && _hardState.IsEmpty;

    /// <inheritdoc />
    public RaftInitialState InitialState() => new(_hardState);

    /// <inheritdoc />
    /// <remarks>
    /// A checkpoint does not discard the log before it: entries from the log's first retained index up to the
    /// checkpoint stay readable and replicable until retention deletes their segments, so this is the lower of the
    /// log's first index and the checkpoint's index + 1.
    /// </remarks>
    public ulong FirstIndex => _snapshot.IsEmpty ? _storage.Log.FirstIndex : Math.Min(_storage.Log.FirstIndex, _snapshot.Metadata.Index + 1);

    /// <inheritdoc />
    public ulong LastIndex => Math.Max(_storage.Log.LastIndex, _snapshot.Metadata.Index);

    /// <inheritdoc />
    public SnapshotMetadata Snapshot => _snapshot.Metadata;

    /// <inheritdoc />
    public bool TryGetTerm(ulong index, out ulong term)
    {
        if (index == _snapshot.Metadata.Index || index == 0)
        {
            term = index == 0 ? 0 : _snapshot.Metadata.Term; // index 0 precedes every log: a follower's first append has previous (0, 0)
            return true;
        }

        if (index < FirstIndex || index > LastIndex)
        {
            term = 0;
            return false;
        }

        term = _storage.Log.TermAt(index);
        return true;
    }

    /// <inheritdoc />
    public IReadOnlyList<LogEntry> Entries(ulong low, ulong high, ulong maxBytes)
    {
        if (low < FirstIndex || high > LastIndex + 1 || low >= high)
        {
            throw new ArgumentOutOfRangeException(nameof(low), $"entries [{low}, {high}) are outside [{FirstIndex}, {LastIndex}]");
        }

        if (TryFromTail(low, high, maxBytes) is { } cached)
        {
            return cached;
        }

        var stored = new List<LogEntry>((int)Math.Min(high - low, 1024));
        _storage.Log.ReadRange(low, (int)Math.Min(high - low, int.MaxValue), (long)Math.Min(maxBytes, long.MaxValue), stored);
        return stored;
    }

    /// <inheritdoc />
    /// <remarks>The same entries as <see cref="Entries"/>, from the tail cache or the segments, without a list of their own.</remarks>
    public void ReadEntries(ulong low, ulong high, ulong maxBytes, List<LogEntry> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        if (low < FirstIndex || high > LastIndex + 1 || low >= high)
        {
            throw new ArgumentOutOfRangeException(nameof(low), $"entries [{low}, {high}) are outside [{FirstIndex}, {LastIndex}]");
        }

        if (TailRange(low, high, maxBytes) is var (start, count))
        {
            destination.AddRange(CollectionsMarshal.AsSpan(_tail).Slice(start, count));
            return;
        }

        _storage.Log.ReadRange(low, (int)Math.Min(high - low, int.MaxValue), (long)Math.Min(maxBytes, long.MaxValue), destination);
    }

    /// <inheritdoc />
    public RaftSnapshot GetSnapshot() => _snapshot;

    /// <inheritdoc />
    public ulong FirstDamagedIndex => _storage.Log.FirstDamagedIndex;

    /// <summary>Injected bug for the simulator (<c>truncate-past-checkpoint</c>): retention may delete entries the checkpoint does not cover.</summary>
    internal bool BugTruncatePastCheckpoint { get; init; }

    /// <summary>Entries served from memory so far (for tests and diagnostics).</summary>
    internal long TailHits { get; private set; }

    /// <summary>
    /// Makes a Ready's snapshot, entries and hard state durable, in that order. Returns after the log's fdatasync
    /// (or, with inline writes, after the write under the log's durability policy).
    /// </summary>
    /// <param name="ready">The Ready about to be acted on.</param>
    public void Save(Ready ready)
    {
        ArgumentNullException.ThrowIfNull(ready);
        if (ready.Snapshot is { IsEmpty: false } snapshot)
        {
            InstallSnapshot(snapshot);
        }

        if (ready.Entries.Length > 0)
        {
            AppendEntries(ready.Entries);
        }

        if (ready.HasHardState)
        {
            var hs = ready.HardState;
            if (hs.Term != _hardState.Term || hs.Vote != _hardState.Vote)
            {
                _storage.HardState.Save(hs);
            }

            _hardState = hs;
        }
    }

    /// <summary>Records a checkpoint the state machine took at <paramref name="index"/> and compacts the log before <paramref name="retainFrom"/>.</summary>
    /// <param name="index">Applied index covered by <paramref name="state"/>; in (Snapshot.Index, LastIndex].</param>
    /// <param name="config">Membership as of <paramref name="index"/>.</param>
    /// <param name="state">State-machine image.</param>
    /// <param name="retainFrom">First index to keep in the log (at most <paramref name="index"/> + 1), so slow followers can still catch up from the log.</param>
    public void Checkpoint(ulong index, ClusterConfig config, ReadOnlyMemory<byte> state, ulong retainFrom)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!TryGetTerm(index, out var term))
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"checkpoint index {index} is not in the log");
        }

        var checkpoint = new Checkpoint(index, term, config.Encode(), state);
        _storage.Checkpoints.Save(checkpoint);
        AdoptCheckpoint(checkpoint, config, retainFrom);
    }

    /// <summary>
    /// Makes a checkpoint whose file is already durable (see <see cref="NodeStorage.Checkpoints"/>) the snapshot in
    /// force, then deletes the log before <paramref name="retainFrom"/> (never past the checkpoint). Does nothing when a
    /// snapshot at or past it is already in force (an InstallSnapshot overtook a background write).
    /// </summary>
    /// <param name="checkpoint">The durable checkpoint; its index must be in the log.</param>
    /// <param name="config">Its configuration, decoded.</param>
    /// <param name="retainFrom">First index to keep; clamped to at most the checkpoint's index + 1.</param>
    /// <returns>True when the checkpoint was adopted.</returns>
    internal bool AdoptCheckpoint(Checkpoint checkpoint, ClusterConfig config, ulong retainFrom)
    {
        if (checkpoint.Index <= _snapshot.Metadata.Index)
        {
            return false;
        }

        _snapshot = new RaftSnapshot(new SnapshotMetadata(checkpoint.Index, checkpoint.Term, config), checkpoint.State);
        Retain(retainFrom);
        return true;
    }

    /// <summary>
    /// Deletes the log before <paramref name="retainFrom"/>, clamped to at most the snapshot in force's index + 1 (the
    /// state machine must stay rebuildable from the snapshot and the log after it); a no-op at or below the first index.
    /// </summary>
    /// <param name="retainFrom">First index to keep, typically <see cref="LogStore.RetainFrom"/>'s answer.</param>
    /// <exception cref="StorageFailedException">An earlier write failed.</exception>
    internal void Retain(ulong retainFrom)
    {
        var keepFrom = BugTruncatePastCheckpoint ? retainFrom : Math.Min(retainFrom, _snapshot.Metadata.Index + 1);
        if (keepFrom > _storage.Log.FirstIndex)
        {
            _storage.Log.TruncatePrefix(keepFrom); // the tail cache may keep older entries: Entries never asks below FirstIndex
        }
    }

    /// <summary>
    /// Makes a peer's snapshot the one in force while keeping the log after it: the snapshot's last entry is in this
    /// log with the same term (paper §7, "retain log entries following it"), and the log before
    /// <paramref name="retainFrom"/> is dropped with its damage (protocol-aware recovery of a range every peer
    /// compacted; see <c>WalrusNode.Repair</c>). The checkpoint file is durable before the log prefix goes, so a crash
    /// in between leaves a checkpoint the log still matches, and the next start drops the prefix again.
    /// </summary>
    /// <param name="snapshot">A verified snapshot whose index this log holds with the snapshot's term.</param>
    /// <param name="retainFrom">First index to keep: a segment's first index, at most the snapshot's index + 1.</param>
    /// <exception cref="IOException">The checkpoint could not be written; nothing changed.</exception>
    /// <exception cref="StorageFailedException">An earlier write failed.</exception>
    internal void AdoptPeerSnapshot(RaftSnapshot snapshot, ulong retainFrom)
    {
        var meta = snapshot.Metadata;
        if (meta.Index <= _snapshot.Metadata.Index)
        {
            Retain(retainFrom); // already in force (a crash came between its write and the drop): only the drop is left
            return;
        }

        var checkpoint = new Checkpoint(meta.Index, meta.Term, meta.Config.Encode(), snapshot.Data);
        _storage.Checkpoints.Save(checkpoint);
        AdoptCheckpoint(checkpoint, meta.Config, retainFrom);
    }

    private void InstallSnapshot(RaftSnapshot snapshot)
    {
        var meta = snapshot.Metadata;
        if (meta.Index <= _snapshot.Metadata.Index)
        {
            return;
        }

        _storage.Checkpoints.Save(new Checkpoint(meta.Index, meta.Term, meta.Config.Encode(), snapshot.Data));
        ClearTail();
        var log = _storage.Log;
        if (log.LastIndex >= log.FirstIndex)
        {
            log.TruncateSuffix(log.FirstIndex);
        }

        log.TruncatePrefix(meta.Index + 1);
        _snapshot = snapshot;
    }

    /// <summary>Writes entries (a Ready's, read only during the call), replacing any stored suffix from the first of them.</summary>
    internal void AppendEntries(ReadOnlySpan<LogEntry> entries)
    {
        var log = _storage.Log;
        var skip = 0;
        while (skip < entries.Length && entries[skip].Index < log.FirstIndex)
        {
            skip++;
        }

        if (skip == entries.Length)
        {
            return;
        }

        var first = entries[skip].Index;
        if (first <= log.LastIndex)
        {
            ClearTail(); // a conflicting suffix is replaced (rare): start the cache again from the new entries
            log.TruncateSuffix(first);
        }

        var written = log.AppendBatchAsync(entries[skip..]);
        if (written.IsCompletedSuccessfully)
        {
            _ = written.Result; // consumes a pooled waiter without the Task that AsTask would allocate
        }
        else
        {
            written.AsTask().GetAwaiter().GetResult();
        }

        AddToTail(entries, skip);
    }

    /// <summary>
    /// Keeps the newest entries (about <see cref="TailCacheBytes"/> of payload) in memory once they are written, so the
    /// entries a node applies right after committing them, and the AppendEntries for followers that are a little
    /// behind, come from memory instead of being read back from the segment files and verified again.
    /// </summary>
    private void AddToTail(ReadOnlySpan<LogEntry> entries, int from)
    {
        if (_tail.Count > _tailStart && _tail[^1].Index + 1 != entries[from].Index)
        {
            ClearTail();
        }

        for (var i = from; i < entries.Length; i++)
        {
            _tail.Add(entries[i]);
            _tailBytes += entries[i].Payload.Length;
        }

        while (_tailBytes > TailCacheBytes && _tail.Count - _tailStart > 1)
        {
            _tailBytes -= _tail[_tailStart].Payload.Length;
            _tail[_tailStart] = default;
            _tailStart++;
        }

        if (_tailStart > 4096 && _tailStart * 2 > _tail.Count)
        {
            _tail.RemoveRange(0, _tailStart);
            _tailStart = 0;
        }
    }

    private void ClearTail()
    {
        _tail.Clear();
        _tailStart = 0;
        _tailBytes = 0;
    }

    /// <summary>[low, high) from memory, within the payload budget (the first entry always), or null when not all cached.</summary>
    private LogEntry[]? TryFromTail(ulong low, ulong high, ulong maxBytes) =>
        TailRange(low, high, maxBytes) is var (start, count) ? CollectionsMarshal.AsSpan(_tail).Slice(start, count).ToArray() : null;

    /// <summary>Where [low, high) lies in the tail cache, within the payload budget (the first entry always), or null when not all cached.</summary>
    private (int Start, int Count)? TailRange(ulong low, ulong high, ulong maxBytes)
    {
        if (_tail.Count == _tailStart || low < _tail[_tailStart].Index || high - 1 > _tail[^1].Index)
        {
            return null;
        }

        var start = _tailStart + (int)(low - _tail[_tailStart].Index);
        var count = 0;
        ulong bytes = 0;
        while (start + count < _tail.Count && low + (ulong)count < high)
        {
            var length = (ulong)_tail[start + count].Payload.Length;
            if (count > 0 && bytes + length > maxBytes)
            {
                break;
            }

            bytes += length;
            count++;
        }

        TailHits += count;
        return (start, count);
    }
}
