namespace WalrusGossip.Raft;

/// <summary>Describes the log prefix a snapshot replaces (paper §7).</summary>
/// <param name="Index">Last log index the checkpoint includes; 0 for "no snapshot".</param>
/// <param name="Term">Term of the entry at <paramref name="Index"/>.</param>
/// <param name="Config">Membership as of <paramref name="Index"/>.</param>
public sealed record SnapshotMetadata(ulong Index, ulong Term, ClusterConfig Config)
{
    /// <summary>Metadata of the empty snapshot at index 0.</summary>
    public static SnapshotMetadata Empty { get; } = new(0, 0, ClusterConfig.Empty);

    /// <summary>The first log index retained after this snapshot: <see cref="Index"/> + 1.</summary>
    public ulong FirstRetainedIndex => Index + 1;
}

/// <summary>
/// A state-machine checkpoint plus the metadata that lets a follower resume replication at
/// <see cref="SnapshotMetadata.FirstRetainedIndex"/> (the InstallSnapshot payload, paper §7).
/// </summary>
/// <param name="Metadata">Position and membership of the checkpoint.</param>
/// <param name="Data">The application's checkpoint bytes; opaque to Raft.</param>
public sealed record RaftSnapshot(SnapshotMetadata Metadata, ReadOnlyMemory<byte> Data)
{
    /// <summary>The empty snapshot at index 0.</summary>
    public static RaftSnapshot Empty { get; } = new(SnapshotMetadata.Empty, ReadOnlyMemory<byte>.Empty);

    /// <summary>True when this is the snapshot at index 0.</summary>
    public bool IsEmpty => Metadata.Index == 0;
}
