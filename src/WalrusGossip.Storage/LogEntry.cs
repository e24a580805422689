namespace WalrusGossip.Storage;

/// <summary>
/// One entry of the replicated log as the store keeps it: position (index, term), kind and opaque payload.
/// </summary>
/// <param name="Index">Position in the log; 1-based, gap-free.</param>
/// <param name="Term">Raft term of the leader that created the entry; 0 is allowed only for tests and tools.</param>
/// <param name="Type">The kind of entry.</param>
/// <param name="Payload">Opaque bytes, at most <see cref="StorageOptions.MaxEntryBytes"/> long.</param>
/// <param name="Flags">Eight bits the layers above may use; stored and returned unchanged.</param>
public readonly record struct LogEntry(ulong Index, ulong Term, EntryType Type, ReadOnlyMemory<byte> Payload, byte Flags = 0);
