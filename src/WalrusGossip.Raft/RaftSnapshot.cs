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

/// <summary>
/// A piece of an encoded snapshot in transfer (Raft paper §7, Figure 13: offset, data, done). The snapshot is
/// identified by its index and term; every chunk repeats its total length and CRC-32C, so a receiver can size its
/// buffer from any chunk and verify the whole before installing it. The transfer is done when
/// <see cref="Offset"/> + <see cref="Data"/> length equals <see cref="TotalBytes"/>.
/// </summary>
/// <param name="SnapshotIndex">Index of the snapshot being transferred (its <see cref="SnapshotMetadata.Index"/>).</param>
/// <param name="SnapshotTerm">Term of that snapshot.</param>
/// <param name="Offset">Byte offset of <paramref name="Data"/> in the encoded snapshot; in a response, the bytes the follower holds.</param>
/// <param name="TotalBytes">Length of the whole encoded snapshot, in bytes (at least 1).</param>
/// <param name="Crc32C">CRC-32C (Castagnoli) of the whole encoded snapshot.</param>
/// <param name="Data">The bytes at <paramref name="Offset"/>; empty in a probe (asking where to resume) and in responses.</param>
public sealed record SnapshotChunk(ulong SnapshotIndex, ulong SnapshotTerm, ulong Offset, ulong TotalBytes, uint Crc32C, ReadOnlyMemory<byte> Data)
{
    /// <summary>True when this chunk carries the last byte of the snapshot.</summary>
    public bool Done => Offset + (ulong)Data.Length == TotalBytes;
}
