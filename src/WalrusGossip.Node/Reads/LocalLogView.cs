using WalrusGossip.Storage;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>
/// A read-only view of a node's local log (<see cref="WalrusNode.LocalLog"/>): what it holds, its size and its flush
/// latency, and raw reads of stored entries (any index that is stored, committed or not: for checkers and tools).
/// Nothing here can write, truncate or compact the log. Safe to use from any thread.
/// </summary>
public sealed class LocalLogView
{
    private readonly LogStore _log;

    internal LocalLogView(LogStore log) => _log = log;

    /// <summary>First retained index (1 for a log that was never compacted).</summary>
    public ulong FirstIndex => _log.FirstIndex;

    /// <summary>Last stored index; <see cref="FirstIndex"/> - 1 when empty.</summary>
    public ulong LastIndex => _log.LastIndex;

    /// <summary>Number of segment files.</summary>
    public int SegmentCount => _log.SegmentCount;

    /// <summary>Bytes of record data held (excluding preallocated space).</summary>
    public long DataBytes => _log.DataBytes;

    /// <summary>Bytes of torn tail that recovery dropped when the store was opened.</summary>
    public long RecoveredTornBytes => _log.RecoveredTornBytes;

    /// <summary>Group commit (write + fdatasync) latency histogram.</summary>
    public GroupCommitHistogram GroupCommitLatency => _log.GroupCommitLatency;

    /// <summary>Reads one stored entry, verifying its CRC.</summary>
    /// <param name="index">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</param>
    /// <returns>The entry as stored.</returns>
    /// <exception cref="LogIndexOutOfRangeException">The index is compacted or beyond the end.</exception>
    /// <exception cref="LogCorruptionException">The stored record no longer verifies.</exception>
    public LogEntry Read(ulong index) => _log.Read(index);

    /// <summary>The term of a stored entry, from memory (no I/O).</summary>
    /// <param name="index">In [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</param>
    /// <returns>Its term.</returns>
    /// <exception cref="LogIndexOutOfRangeException">The index is compacted or beyond the end.</exception>
    public ulong TermAt(ulong index) => _log.TermAt(index);
}
