namespace WalrusGossip.Raft;

/// <summary>One entry of the replicated log (paper §5.3).</summary>
/// <param name="Index">Position in the log; starts at 1, no gaps.</param>
/// <param name="Term">Term of the leader that created the entry; at least 1.</param>
/// <param name="Type">Kind of entry.</param>
/// <param name="Payload">Entry bytes; empty for <see cref="EntryType.NoOp"/>. Raft never copies or inspects
/// <see cref="EntryType.Normal"/> payloads, so the caller must not mutate the memory after proposing it. The store
/// bounds it by its <c>MaxEntryBytes</c>.</param>
/// <param name="Flags">Eight bits the layers above Raft may use; the store keeps them in the record header and
/// returns them unchanged; Raft ignores them. 0 unless set.</param>
/// <remarks>The same type is what the store (src/WalrusGossip.Storage) writes and reads, so entries cross from Raft
/// to disk and back without conversion.</remarks>
public readonly record struct LogEntry(ulong Index, ulong Term, EntryType Type, ReadOnlyMemory<byte> Payload, byte Flags = 0)
{
    /// <summary>Fixed per-entry overhead, in bytes, counted by flow control in addition to the payload length.</summary>
    public const int OverheadBytes = 24;

    /// <summary>Size in bytes that flow control and message limits charge for this entry: payload length plus <see cref="OverheadBytes"/>.</summary>
    public ulong SizeBytes => (ulong)Payload.Length + OverheadBytes;

    /// <summary>True when both entries have the same index, term, type, flags and payload bytes.</summary>
    /// <param name="other">The entry to compare with.</param>
    /// <returns>Whether the entries are identical byte for byte.</returns>
    public bool ContentEquals(in LogEntry other) =>
        Index == other.Index && Term == other.Term && Type == other.Type && Flags == other.Flags && Payload.Span.SequenceEqual(other.Payload.Span);
}
