namespace WalrusGossip.Storage;

/// <summary>
/// How much of the log a node keeps (agent section <c>Storage:Retention</c>). Retention deletes whole segments, oldest
/// first, and never one that holds an entry after the latest checkpoint (the state machine could not be rebuilt
/// without it); it runs when a checkpoint is adopted, and, with <see cref="MaxAge"/> set, also about once a minute on
/// the node (segments age without new checkpoints). Reads below the first retained index are answered
/// <c>Compacted</c> with that index. Zero for a limit means no limit; the default keeps the whole log.
/// </summary>
public sealed record RetentionPolicy
{
    /// <summary>Keeps everything: no limit set.</summary>
    public static RetentionPolicy KeepAll { get; } = new();

    /// <summary>
    /// Most record bytes kept in the segments before the newest (the segment being written is always kept), so a data
    /// directory holds at most this plus one segment, plus what accrues between checkpoints. 0: no byte limit.
    /// </summary>
    public long MaxBytes { get; init; }

    /// <summary>Most entries kept: segments whose entries all lie more than this far behind the last index are deleted. 0: no count limit.</summary>
    public ulong MaxEntries { get; init; }

    /// <summary>
    /// Oldest a sealed segment may grow: one whose newest record was written more than this long ago (its file's last
    /// write time, <see cref="IO.IStorageDevice.LastWriteTimeUtc"/>, against <see cref="StorageOptions.TimeProvider"/>)
    /// is deleted, with every segment before it. <see cref="TimeSpan.Zero"/>: no age limit (the default); negative is
    /// refused. The clock's resolution is the file system's mtime; a clock stepped backwards only delays deletion.
    /// </summary>
    public TimeSpan MaxAge { get; init; }

    /// <summary>True when no limit is set.</summary>
    public bool IsKeepAll => MaxBytes == 0 && MaxEntries == 0 && MaxAge == TimeSpan.Zero;

    /// <summary>Checks the limits.</summary>
    /// <exception cref="StorageConfigurationException">A limit is negative.</exception>
    public void Validate()
    {
        if (MaxBytes < 0)
        {
            throw new StorageConfigurationException($"Storage:Retention:MaxBytes must be 0 (no limit) or positive, got {MaxBytes}");
        }

        if (MaxAge < TimeSpan.Zero)
        {
            throw new StorageConfigurationException($"Storage:Retention:MaxAge must be 0 (no limit) or positive, got {MaxAge}");
        }
    }
}
