namespace WalrusGossip.Node;

/// <summary>One committed application entry as readers see it: a client's append, once, with its stream tag.</summary>
/// <param name="Index">Log index.</param>
/// <param name="Term">Term it was written in.</param>
/// <param name="Stream">Stream tag, or null when the append named none.</param>
/// <param name="Data">The application bytes (the append command's payload, without its header).</param>
/// <param name="StreamSequence">Its per-stream sequence (<see cref="StreamIndex"/>); 0 when it names no stream.</param>
public readonly record struct CommittedEntry(ulong Index, ulong Term, string? Stream, ReadOnlyMemory<byte> Data, ulong StreamSequence = 0);
