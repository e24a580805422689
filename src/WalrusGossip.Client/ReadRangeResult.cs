namespace WalrusGossip.Client;

/// <summary>The answer to <see cref="WalrusClient.ReadRangeAsync"/>.</summary>
/// <param name="Entries">Entries in index order, consecutive from the requested index; empty when the requested
/// index is past the last readable one.</param>
/// <param name="FirstIndex">First index the answering agent still retains (older ones are compacted).</param>
/// <param name="LastIndex">Last committed index readable at the requested consistency when the agent answered.</param>
/// <param name="CommitIndex">The answering agent's commit index when it answered.</param>
public sealed record ReadRangeResult(IReadOnlyList<LogEntry> Entries, ulong FirstIndex, ulong LastIndex, ulong CommitIndex);
