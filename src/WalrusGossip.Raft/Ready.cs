namespace WalrusGossip.Raft;

/// <summary>A linearizable read that may be served once the state machine has applied up to <paramref name="Index"/> (dissertation §6.4).</summary>
/// <param name="Index">The read index: the leader's commit index when leadership was confirmed.</param>
/// <param name="Context">The caller's request context passed to <see cref="RaftNode.ReadIndex"/>.</param>
public readonly record struct ReadState(ulong Index, ReadOnlyMemory<byte> Context);

/// <summary>Volatile state that is useful to report but never persisted.</summary>
/// <param name="Leader">Known leader id, 0 if none.</param>
/// <param name="Role">This node's role.</param>
public readonly record struct SoftState(ulong Leader, RaftRole Role);

/// <summary>
/// A batch of effects produced by <see cref="RaftNode.GetReady"/>. The application MUST handle them in this order:
/// <list type="number">
/// <item>If <see cref="Snapshot"/> is set, persist it; then append <see cref="Entries"/> to stable storage
/// (discarding any stored suffix they replace); then persist <see cref="HardState"/> if <see cref="HasHardState"/>.
/// These writes must be durable (fsynced) when <see cref="MustSync"/> is true.</item>
/// <item>Only after step 1 is durable, send <see cref="Messages"/>: a vote or acknowledgement must never leave
/// the node before the term, vote and entries it promises are on disk (paper Figure 2). Exception: a leader's
/// <see cref="RaftMessageType.Append"/> and <see cref="RaftMessageType.Heartbeat"/> messages may be sent before or
/// while step 1 runs, so followers write in parallel with the leader (dissertation §10.2.1): the leader counts its
/// own copy toward the commit quorum only after <see cref="RaftNode.Advance"/>.</item>
/// <item>Apply <see cref="Snapshot"/> (if any) and then <see cref="CommittedEntries"/> to the state machine, in order;
/// serve <see cref="ReadStates"/> once the applied index reaches their index.</item>
/// <item>Call <see cref="RaftNode.Advance"/> with this Ready before asking for the next one.</item>
/// </list>
/// </summary>
public sealed class Ready
{
    internal Ready(
        SoftState? softState,
        HardState hardState,
        bool hasHardState,
        IReadOnlyList<LogEntry> entries,
        RaftSnapshot? snapshot,
        IReadOnlyList<LogEntry> committedEntries,
        IReadOnlyList<RaftMessage> messages,
        IReadOnlyList<ReadState> readStates,
        bool mustSync)
    {
        SoftState = softState;
        HardState = hardState;
        HasHardState = hasHardState;
        Entries = entries;
        Snapshot = snapshot;
        CommittedEntries = committedEntries;
        Messages = messages;
        ReadStates = readStates;
        MustSync = mustSync;
    }

    /// <summary>Leader and role, when they changed since the previous Ready; otherwise null.</summary>
    public SoftState? SoftState { get; }

    /// <summary>The hard state to persist when <see cref="HasHardState"/> is true.</summary>
    public HardState HardState { get; }

    /// <summary>True when <see cref="HardState"/> changed and must be persisted before sending <see cref="Messages"/>.</summary>
    public bool HasHardState { get; }

    /// <summary>Entries to append to stable storage before sending <see cref="Messages"/>.</summary>
    public IReadOnlyList<LogEntry> Entries { get; }

    /// <summary>A snapshot received from the leader, to persist and apply; null when none.</summary>
    public RaftSnapshot? Snapshot { get; }

    /// <summary>Committed entries to apply to the state machine, in index order.</summary>
    public IReadOnlyList<LogEntry> CommittedEntries { get; }

    /// <summary>Messages to send once the hard state, entries and snapshot of this Ready are durable.</summary>
    public IReadOnlyList<RaftMessage> Messages { get; }

    /// <summary>Confirmed linearizable reads.</summary>
    public IReadOnlyList<ReadState> ReadStates { get; }

    /// <summary>True when the writes of this Ready must be fsynced (term, vote or entries changed).</summary>
    public bool MustSync { get; }
}
