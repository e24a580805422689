namespace WalrusGossip.Raft;

/// <summary>What a node loads at start: the persisted hard state (the log itself is read through the storage).</summary>
/// <param name="HardState">The last hard state the application persisted from a <see cref="Ready"/>.</param>
public readonly record struct RaftInitialState(HardState HardState);

/// <summary>
/// The stable log the Raft core reads from (etcd/raft's Storage). The core never writes to it: the
/// application appends <see cref="Ready.Entries"/>, stores <see cref="Ready.HardState"/> and installs
/// <see cref="Ready.Snapshot"/>, then calls <see cref="RaftNode.Advance"/>. Implementations need not be
/// thread-safe; the node loop calls them from its own thread only.
/// </summary>
public interface IRaftLogStorage
{
    /// <summary>Returns the persisted hard state.</summary>
    /// <returns>The state saved from the last persisted <see cref="Ready"/>, or empty on first boot.</returns>
    RaftInitialState InitialState();

    /// <summary>
    /// Index of the first entry still available: at most <see cref="Snapshot"/>'s index + 1. A storage may keep entries
    /// at and before its snapshot's index (a checkpoint need not discard the log it covers); a follower whose next entry
    /// is before this index is sent the snapshot (§7).
    /// </summary>
    ulong FirstIndex { get; }

    /// <summary>Index of the last entry; equals <see cref="FirstIndex"/> - 1 when no entry is retained.</summary>
    ulong LastIndex { get; }

    /// <summary>Metadata of the latest snapshot (index 0 when none). The term of its index stays readable through <see cref="TryGetTerm"/>.</summary>
    SnapshotMetadata Snapshot { get; }

    /// <summary>Gets the term of the entry at <paramref name="index"/>.</summary>
    /// <param name="index">Log index in [<see cref="FirstIndex"/> - 1, <see cref="LastIndex"/>].</param>
    /// <param name="term">The term, or 0 when unavailable.</param>
    /// <returns>False when <paramref name="index"/> is compacted or beyond the log.</returns>
    bool TryGetTerm(ulong index, out ulong term);

    /// <summary>Reads entries in [<paramref name="low"/>, <paramref name="high"/>).</summary>
    /// <param name="low">First index; at least <see cref="FirstIndex"/>.</param>
    /// <param name="high">One past the last index; at most <see cref="LastIndex"/> + 1 and greater than <paramref name="low"/>.</param>
    /// <param name="maxBytes">Stop once the entries' <see cref="LogEntry.SizeBytes"/> would exceed this; at least one entry is always returned.</param>
    /// <returns>Contiguous entries starting at <paramref name="low"/>, in a new list that the caller may keep (it goes into messages and Readys unchanged).</returns>
    /// <exception cref="ArgumentOutOfRangeException">The range lies outside [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</exception>
    IReadOnlyList<LogEntry> Entries(ulong low, ulong high, ulong maxBytes);

    /// <summary>
    /// Reads the same entries as <see cref="Entries"/> but adds them to <paramref name="destination"/> instead of a new
    /// list, so the core can gather <see cref="Ready.CommittedEntries"/> into a buffer it reuses. The storage keeps no
    /// reference to <paramref name="destination"/>. The default implementation copies <see cref="Entries"/>' list.
    /// </summary>
    /// <param name="low">First index; at least <see cref="FirstIndex"/>.</param>
    /// <param name="high">One past the last index; at most <see cref="LastIndex"/> + 1 and greater than <paramref name="low"/>.</param>
    /// <param name="maxBytes">As for <see cref="Entries"/>: at least one entry is always added.</param>
    /// <param name="destination">Receives the entries, contiguous from <paramref name="low"/>, after any it already holds.</param>
    /// <exception cref="ArgumentOutOfRangeException">The range lies outside [<see cref="FirstIndex"/>, <see cref="LastIndex"/>].</exception>
    void ReadEntries(ulong low, ulong high, ulong maxBytes, List<LogEntry> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        destination.AddRange(Entries(low, high, maxBytes));
    }

    /// <summary>Returns the latest snapshot with its checkpoint bytes, to send to a follower that is too far behind.</summary>
    /// <returns>The snapshot; <see cref="RaftSnapshot.Empty"/> when none exists.</returns>
    RaftSnapshot GetSnapshot();

    /// <summary>
    /// The lowest index whose stored entry is damaged and unreadable until repaired (protocol-aware repair), or 0 when
    /// none is. At start-up the configuration is rebuilt only from the entries before it; see
    /// <see cref="RaftNode.RebuildConfiguration"/>. Defaults to 0.
    /// </summary>
    ulong FirstDamagedIndex => 0;
}
