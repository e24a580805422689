namespace WalrusGossip.Client;

/// <summary>Where a committed append landed in the log.</summary>
/// <param name="Index">Log index of the entry (from 1).</param>
/// <param name="Term">Raft term of the leader that committed it.</param>
/// <param name="StreamSequence">The entry's sequence within its stream (from 1, without gaps); 0 when it names no stream.</param>
public readonly record struct AppendResult(ulong Index, ulong Term, ulong StreamSequence = 0);
