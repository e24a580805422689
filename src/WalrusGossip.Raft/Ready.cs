using System.Runtime.InteropServices;

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
/// <remarks>
/// <para><b>Lifetime (issue 21).</b> A Ready is a view of buffers the node owns and reuses, so that a steady stream of
/// Readys allocates nothing: <see cref="Entries"/>, <see cref="CommittedEntries"/>, <see cref="Messages"/> and
/// <see cref="ReadStates"/> are spans over them, and the Ready object itself is the one every <see cref="RaftNode.GetReady"/>
/// of that node returns. They are valid from <see cref="RaftNode.GetReady"/> until <see cref="RaftNode.Advance"/>:
/// nothing the node does in between (steps, ticks and proposals made from inside the handling, for example by a
/// callback of an applied entry) changes what they show. <see cref="RaftNode.Advance"/> empties them, and the next
/// <see cref="RaftNode.GetReady"/> refills the same buffers. A caller that needs entries or messages after
/// <see cref="RaftNode.Advance"/> copies the <see cref="LogEntry"/> values or the message references out (the spans'
/// type keeps them from being stored by mistake).</para>
/// <para>What may be kept: each <see cref="RaftMessage"/> (including its <see cref="RaftMessage.Entries"/>, which the
/// node never changes once the message is created, so a transport may serialise it or a network may hold it after the
/// node has moved on), each entry's <see cref="LogEntry.Payload"/> bytes (never copied or changed by the core), the
/// <see cref="Snapshot"/>, and the <see cref="ReadState"/> values.</para>
/// </remarks>
public sealed class Ready
{
    private static readonly List<LogEntry> NoEntries = [];
    private static readonly List<RaftMessage> NoMessages = [];
    private static readonly List<ReadState> NoReadStates = [];

    private ReadOnlyMemory<LogEntry> _entries;
    private List<LogEntry> _committedEntries = NoEntries;
    private List<RaftMessage> _messages = NoMessages;
    private List<ReadState> _readStates = NoReadStates;

    internal Ready()
    {
    }

    /// <summary>Fills this Ready for <see cref="RaftNode.GetReady"/>; the lists are the node's and are not changed until <see cref="Clear"/>.</summary>
    internal void Set(
        SoftState? softState,
        HardState hardState,
        bool hasHardState,
        ReadOnlyMemory<LogEntry> entries,
        RaftSnapshot? snapshot,
        List<LogEntry> committedEntries,
        List<RaftMessage> messages,
        List<ReadState> readStates,
        bool mustSync)
    {
        SoftState = softState;
        HardState = hardState;
        HasHardState = hasHardState;
        _entries = entries;
        Snapshot = snapshot;
        _committedEntries = committedEntries;
        _messages = messages;
        _readStates = readStates;
        MustSync = mustSync;
    }

    /// <summary>Empties this Ready at <see cref="RaftNode.Advance"/>, so a view used after it shows nothing instead of reused memory.</summary>
    internal void Clear() => Set(null, default, false, default, null, NoEntries, NoMessages, NoReadStates, false);

    /// <summary>Leader and role, when they changed since the previous Ready; otherwise null.</summary>
    public SoftState? SoftState { get; private set; }

    /// <summary>The hard state to persist when <see cref="HasHardState"/> is true.</summary>
    public HardState HardState { get; private set; }

    /// <summary>True when <see cref="HardState"/> changed and must be persisted before sending <see cref="Messages"/>.</summary>
    public bool HasHardState { get; private set; }

    /// <summary>
    /// Entries to append to stable storage before sending <see cref="Messages"/>, in index order, contiguous. A view of
    /// the node's unstable log, not a copy: valid until <see cref="RaftNode.Advance"/> (see the remarks on <see cref="Ready"/>).
    /// </summary>
    public ReadOnlySpan<LogEntry> Entries => _entries.Span;

    /// <summary>A snapshot received from the leader, to persist and apply; null when none. May be kept.</summary>
    public RaftSnapshot? Snapshot { get; private set; }

    /// <summary>
    /// Committed entries to apply to the state machine, in index order, contiguous, at most
    /// <see cref="RaftOptions.MaxCommittedBytesPerReady"/> (at least one when any is due). Copied into a buffer the
    /// node reuses: valid until <see cref="RaftNode.Advance"/> (see the remarks on <see cref="Ready"/>).
    /// </summary>
    public ReadOnlySpan<LogEntry> CommittedEntries => CollectionsMarshal.AsSpan(_committedEntries);

    /// <summary>
    /// Messages to send once the hard state, entries and snapshot of this Ready are durable. The span is valid until
    /// <see cref="RaftNode.Advance"/>; each message, its entries included, never changes and may be kept.
    /// </summary>
    public ReadOnlySpan<RaftMessage> Messages => CollectionsMarshal.AsSpan(_messages);

    /// <summary>Confirmed linearizable reads. The span is valid until <see cref="RaftNode.Advance"/>; the values may be kept.</summary>
    public ReadOnlySpan<ReadState> ReadStates => CollectionsMarshal.AsSpan(_readStates);

    /// <summary>True when the writes of this Ready must be fsynced (term, vote or entries changed).</summary>
    public bool MustSync { get; private set; }
}
