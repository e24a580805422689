namespace WalrusGossip.Storage.IO;

/// <summary>How <see cref="IStorageDevice.Open"/> treats an existing or missing file.</summary>
public enum DeviceOpenMode
{
    /// <summary>Create the file; fail if it exists.</summary>
    CreateNew,

    /// <summary>Open an existing file for reading and writing; fail if it is missing.</summary>
    OpenExisting,

    /// <summary>Open an existing file for reading only; fail if it is missing.</summary>
    ReadOnly,
}

/// <summary>
/// The file-system operations the store needs, and nothing more, so that a simulated disk that loses
/// unsynced writes or tears sectors on crash can stand in for the real one.
/// </summary>
/// <remarks>Paths are absolute or relative to the process's working directory, as the store passes them.</remarks>
public interface IStorageDevice
{
    /// <summary>The write engine in use, for logs and benchmark reports (e.g. "uring", "psync", "sim").</summary>
    string EngineName { get; }

    /// <summary>Opens a file.</summary>
    /// <param name="path">File path.</param>
    /// <param name="mode">Create or open, read-write or read-only.</param>
    /// <returns>The open file; the caller disposes it.</returns>
    /// <exception cref="IOException">The file exists (CreateNew), is missing, or cannot be opened.</exception>
    IDeviceFile Open(string path, DeviceOpenMode mode);

    /// <summary>True when a file exists at <paramref name="path"/>.</summary>
    /// <param name="path">File path.</param>
    /// <returns>Whether the file exists.</returns>
    bool FileExists(string path);

    /// <summary>Names (not paths) of the files directly inside <paramref name="directory"/>, in ordinal order.</summary>
    /// <param name="directory">Directory path; must exist.</param>
    /// <returns>File names, without subdirectories.</returns>
    IReadOnlyList<string> ListFiles(string directory);

    /// <summary>Creates a directory and its parents if missing.</summary>
    /// <param name="path">Directory path.</param>
    void CreateDirectory(string path);

    /// <summary>Deletes a file; no error if it is missing.</summary>
    /// <param name="path">File path.</param>
    void DeleteFile(string path);

    /// <summary>Atomically renames <paramref name="source"/> to <paramref name="destination"/>, replacing it if present.</summary>
    /// <param name="source">Existing file path.</param>
    /// <param name="destination">New path in the same directory.</param>
    void Rename(string source, string destination);

    /// <summary>Makes the directory's entries (creations, renames, deletions) durable (fsync on the directory).</summary>
    /// <param name="path">Directory path.</param>
    void SyncDirectory(string path);

    /// <summary>
    /// Bytes this process may still write on the file system holding <paramref name="path"/> (statfs: available blocks
    /// x block size); <see cref="long.MaxValue"/> when the device cannot tell.
    /// </summary>
    /// <param name="path">An existing file or directory on the device.</param>
    /// <returns>Free bytes, at least 0.</returns>
    long AvailableBytes(string path);

    /// <summary>
    /// When the file at <paramref name="path"/> was last written (its modification time, UTC), for retention by age
    /// (<see cref="RetentionPolicy.MaxAge"/>). The real device reads the file system's mtime; the simulator's returns the
    /// virtual time of its last write to the file.
    /// </summary>
    /// <param name="path">An existing file.</param>
    /// <returns>The last write time, <see cref="DateTimeKind.Utc"/>.</returns>
    /// <exception cref="IOException">The file is missing or its times cannot be read.</exception>
    DateTime LastWriteTimeUtc(string path);

    /// <summary>Takes an exclusive lock on <paramref name="path"/> (created if missing) for the life of the returned object.</summary>
    /// <param name="path">Lock file path.</param>
    /// <returns>The lock; dispose to release.</returns>
    /// <exception cref="IOException">Another process holds the lock.</exception>
    IDisposable Lock(string path);
}

/// <summary>An open file on an <see cref="IStorageDevice"/>. Used by one writer at a time; reads may run concurrently.</summary>
public interface IDeviceFile : IDisposable
{
    /// <summary>The path the file was opened with.</summary>
    string Path { get; }

    /// <summary>Current file length in bytes (including preallocated space).</summary>
    long Length { get; }

    /// <summary>Reads up to <paramref name="buffer"/>.Length bytes at <paramref name="offset"/>.</summary>
    /// <param name="offset">Byte offset, 0 or more.</param>
    /// <param name="buffer">Destination.</param>
    /// <returns>Bytes read; fewer than requested only at end of file.</returns>
    int Read(long offset, Span<byte> buffer);

    /// <summary>Writes all of <paramref name="data"/> at <paramref name="offset"/> (not yet durable).</summary>
    /// <param name="offset">Byte offset, 0 or more.</param>
    /// <param name="data">Bytes to write.</param>
    void Write(long offset, ReadOnlySpan<byte> data);

    /// <summary>Writes <paramref name="data"/> at <paramref name="offset"/> and makes the file's data durable, as one operation where the engine allows (io_uring: linked write + fdatasync SQEs).</summary>
    /// <param name="offset">Byte offset, 0 or more.</param>
    /// <param name="data">Bytes to write.</param>
    void WriteAndSync(long offset, ReadOnlySpan<byte> data);

    /// <summary>
    /// Starts writing back a just-written range without waiting (Linux <c>sync_file_range(SYNC_FILE_RANGE_WRITE)</c>),
    /// so a later <see cref="Sync"/> has little left to flush. A hint: no durability is promised; may do nothing.
    /// </summary>
    /// <param name="offset">Start of the range.</param>
    /// <param name="length">Bytes in the range.</param>
    void StartWriteback(long offset, long length)
    {
    }

    /// <summary>
    /// Tells the operating system that the cached pages of a range that is already written will not be read soon: waits
    /// until none of them is dirty or under writeback, then drops them from the page cache (Linux
    /// <c>sync_file_range</c> with wait, then <c>posix_fadvise(POSIX_FADV_DONTNEED)</c>). A hint: no durability is
    /// promised, nothing is lost (a later read comes from the disk), errors are ignored; may do nothing.
    /// </summary>
    /// <param name="offset">Start of the range in bytes.</param>
    /// <param name="length">Bytes in the range.</param>
    void DropCache(long offset, long length)
    {
    }

    /// <summary>Makes all written data durable (fdatasync).</summary>
    void Sync();

    /// <summary>Makes written data and all metadata, including the size, durable (fsync).</summary>
    void SyncAll();

    /// <summary>Sets the file length, discarding bytes beyond it or extending with zeros.</summary>
    /// <param name="length">New length in bytes.</param>
    void SetLength(long length);

    /// <summary>Reserves disk blocks so the file is at least <paramref name="length"/> bytes long (fallocate); the new range reads as zeros.</summary>
    /// <param name="length">Length in bytes to reserve up to.</param>
    /// <param name="writeZeros">
    /// Also write zeros over the range, so later overwrites and fdatasyncs need no extent-conversion metadata updates
    /// (on ext4 and XFS an fdatasync into fallocated-but-unwritten blocks must journal the conversion). Costs one
    /// sequential write of the range.
    /// </param>
    void Allocate(long length, bool writeZeros = false);
}
