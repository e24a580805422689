namespace WalrusGossip.Storage.Checkpoints;

/// <summary>
/// A state-machine checkpoint: everything needed to rebuild the applied state without the log prefix it covers
/// (Raft paper §7; also the InstallSnapshot payload).
/// </summary>
/// <param name="Index">Last log index applied into <paramref name="State"/>.</param>
/// <param name="Term">Term of the entry at <paramref name="Index"/>.</param>
/// <param name="Configuration">Encoded cluster configuration in force at <paramref name="Index"/>; opaque to storage.</param>
/// <param name="State">Opaque state-machine image.</param>
public sealed record Checkpoint(ulong Index, ulong Term, ReadOnlyMemory<byte> Configuration, ReadOnlyMemory<byte> State);
