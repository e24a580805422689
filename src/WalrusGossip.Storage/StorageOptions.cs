namespace WalrusGossip.Storage;

/// <summary>Options of the local store (configuration section <c>Storage</c>).</summary>
public sealed class StorageOptions
{
    /// <summary>Smallest accepted <see cref="MaxSegmentBytes"/>: 64 KiB.</summary>
    public const long MinSegmentBytes = 64 * 1024;

    /// <summary>
    /// Size a segment file is preallocated to and rolled at, in bytes. Default 64 MiB; range 64 KiB to 1 GiB.
    /// Preallocation lets fdatasync skip file-size metadata updates.
    /// </summary>
    public long MaxSegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// Largest payload of one entry in bytes. Default 4 MiB; range 0 to <see cref="MaxSegmentBytes"/> minus the 32-byte header.
    /// Larger appends fail with <see cref="EntryTooLargeException"/>.
    /// </summary>
    public int MaxEntryBytes { get; set; } = DefaultMaxEntryBytes;

    /// <summary>Default of <see cref="MaxEntryBytes"/>: 4 MiB.</summary>
    public const int DefaultMaxEntryBytes = 4 * 1024 * 1024;

    /// <summary>When an append completes. Default <see cref="DurabilityPolicy.Always"/>.</summary>
    public DurabilityPolicy Durability { get; set; } = DurabilityPolicy.Always;

    /// <summary>Write engine. Default <see cref="IoEngine.Auto"/>.</summary>
    public IoEngine IoEngine { get; set; } = IoEngine.Auto;

    /// <summary>
    /// Bytes of encoded records one group-commit batch may hold before appenders wait for the writer
    /// (back-pressure). Default 8 MiB; at least <see cref="MaxEntryBytes"/> + 32.
    /// </summary>
    public int MaxBatchBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Spacing of sparse index points in a segment's <c>.idx</c> file, in bytes of segment data. Default 4 KiB.</summary>
    public int IndexIntervalBytes { get; set; } = 4096;

    /// <summary>
    /// When true, no writer thread runs: each append writes (and, under <c>always</c>, fdatasyncs) its batch on the
    /// calling thread and its task is complete when the call returns. Used by single-threaded node loops and the
    /// deterministic simulator, where nothing may run on another thread. Default false (group commit across threads).
    /// </summary>
    public bool InlineWrites { get; set; }

    /// <summary>
    /// With <see cref="InlineWrites"/>: create and preallocate (fallocate) the next segment file, and write a sealed
    /// segment's index file, on background tasks, as the writer-thread mode does, instead of on the appending thread
    /// when the open segment fills. The next segment is not
    /// zero-filled: with three agents writing 60 MB/s each to one disk, zero-filling every 64 MiB segment doubled the
    /// write traffic and its syncs stalled group commits (p99 80 ms instead of 39 ms in walrus-loadtest). The
    /// production node preset turns it on (the agent and the simulator); the simulator runs the background work
    /// inline through <see cref="RunInBackground"/>. Default false.
    /// </summary>
    public bool PrepareSegmentsInBackground { get; set; }

    /// <summary>
    /// Runs one piece of background work (preparing the next segment file, writing a sealed segment's index file)
    /// and returns its task; the store waits for it before it needs the result. Default <see cref="Task.Run(Action)"/>.
    /// The deterministic simulator runs the work inline on its single thread, so the same code path runs there.
    /// </summary>
    public Func<Action, Task> RunInBackground { get; set; } = Task.Run;

    /// <summary>
    /// Free space the node keeps on the data directory's file system: below it, the leader refuses new appends (typed
    /// <c>NoSpace</c>, answered to clients as OVERLOADED with the reason) and a follower refuses entries from the leader
    /// (it keeps voting and serving reads); both resume by themselves once space returns. Checked about once a second,
    /// so keep it above what a second of appends writes. Default 512 MiB; 0 disables the check.
    /// </summary>
    public long ReserveBytes { get; set; } = 512L << 20;

    /// <summary>How much of the log to keep (see <see cref="RetentionPolicy"/>). Default <see cref="RetentionPolicy.KeepAll"/>.</summary>
    public RetentionPolicy Retention { get; set; } = RetentionPolicy.KeepAll;

    /// <summary>
    /// The clock retention by age (<see cref="RetentionPolicy.MaxAge"/>) compares segment file times with
    /// (<see cref="TimeProvider.GetUtcNow"/>). Default <see cref="TimeProvider.System"/>; the deterministic simulator
    /// gives its virtual time, which its simulated disk also stamps on every write.
    /// </summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Checks every option against its documented range.</summary>
    /// <exception cref="StorageConfigurationException">An option is out of range; the message names it.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Retention);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        Retention.Validate();
        if (MaxSegmentBytes is < MinSegmentBytes or > 1L << 30)
        {
            throw new StorageConfigurationException($"Storage:MaxSegmentBytes must be between {MinSegmentBytes} and {1L << 30}, got {MaxSegmentBytes}");
        }

        if (MaxEntryBytes < 0 || MaxEntryBytes > MaxSegmentBytes - Records.RecordHeader.Size)
        {
            throw new StorageConfigurationException($"Storage:MaxEntryBytes must be between 0 and MaxSegmentBytes - 32 ({MaxSegmentBytes - 32}), got {MaxEntryBytes}");
        }

        if (MaxBatchBytes < MaxEntryBytes + Records.RecordHeader.Size)
        {
            throw new StorageConfigurationException($"Storage:MaxBatchBytes must be at least MaxEntryBytes + 32 ({MaxEntryBytes + 32}), got {MaxBatchBytes}");
        }

        if (IndexIntervalBytes is < 512 or > 1 << 20)
        {
            throw new StorageConfigurationException($"Storage:IndexIntervalBytes must be between 512 and {1 << 20}, got {IndexIntervalBytes}");
        }

        if (!Enum.IsDefined(IoEngine))
        {
            throw new StorageConfigurationException($"Storage:IoEngine must be auto, uring or psync, got {IoEngine}");
        }
    }
}
