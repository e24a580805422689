namespace WalrusGossip.Client;

/// <summary>A committed log entry as an application sees it.</summary>
/// <param name="Index">Log index (from 1, without gaps).</param>
/// <param name="Term">Raft term of the leader that created it.</param>
/// <param name="Stream">Stream name the entry was appended with, or null when none.</param>
/// <param name="Payload">The application's bytes.</param>
/// <param name="StreamSequence">Its sequence within <paramref name="Stream"/> (from 1, without gaps); 0 when it names no stream.</param>
public sealed record LogEntry(ulong Index, ulong Term, string? Stream, ReadOnlyMemory<byte> Payload, ulong StreamSequence = 0);
