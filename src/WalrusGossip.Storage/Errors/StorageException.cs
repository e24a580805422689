namespace WalrusGossip.Storage;

/// <summary>Base type of every error the storage layer raises on purpose.</summary>
public class StorageException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong, naming the file or value involved.</param>
    public StorageException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and the underlying cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The underlying error.</param>
    public StorageException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with a default message.</summary>
    public StorageException() { }
}

/// <summary>
/// A complete record failed its CRC-32C or structural checks, or the segments do not form a gap-free log.
/// Raised instead of truncating data that may have been acknowledged (protocol-aware recovery repairs it
/// from peers; Alagappan et al., FAST 2018).
/// </summary>
public sealed class LogCorruptionException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="filePath">The segment file holding the bad record.</param>
    /// <param name="offset">Byte offset of the record's header in that file.</param>
    /// <param name="index">The log index expected at that position.</param>
    /// <param name="reason">What check failed.</param>
    public LogCorruptionException(string filePath, long offset, ulong index, string reason)
        : base($"log corruption in {filePath} at offset {offset} (index {index}): {reason}")
    {
        FilePath = filePath;
        Offset = offset;
        Index = index;
        Reason = reason;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public LogCorruptionException(string message) : base(message)
    {
        FilePath = string.Empty;
        Reason = message;
    }

    /// <summary>Creates the exception with a default message.</summary>
    public LogCorruptionException() : this("log corruption") { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The cause.</param>
    public LogCorruptionException(string message, Exception inner) : base(message, inner)
    {
        FilePath = string.Empty;
        Reason = message;
    }

    /// <summary>The segment file holding the bad record.</summary>
    public string FilePath { get; }

    /// <summary>Byte offset of the bad record's header within <see cref="FilePath"/>.</summary>
    public long Offset { get; }

    /// <summary>The log index expected at <see cref="Offset"/>.</summary>
    public ulong Index { get; }

    /// <summary>Which check failed.</summary>
    public string Reason { get; }
}

/// <summary>A read or truncation named an index outside the retained log [FirstIndex, LastIndex].</summary>
public sealed class LogIndexOutOfRangeException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="index">The requested index.</param>
    /// <param name="firstIndex">First retained index.</param>
    /// <param name="lastIndex">Last index; FirstIndex - 1 when the log is empty.</param>
    public LogIndexOutOfRangeException(ulong index, ulong firstIndex, ulong lastIndex)
        : base(index < firstIndex
            ? $"index {index} is compacted: the log starts at {firstIndex}"
            : $"index {index} is beyond the end of the log (last index {lastIndex})")
    {
        Index = index;
        FirstIndex = firstIndex;
        LastIndex = lastIndex;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public LogIndexOutOfRangeException(string message) : base(message) { }

    /// <summary>Creates the exception with a default message.</summary>
    public LogIndexOutOfRangeException() { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The cause.</param>
    public LogIndexOutOfRangeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The requested index.</summary>
    public ulong Index { get; }

    /// <summary>First retained index when the request was made.</summary>
    public ulong FirstIndex { get; }

    /// <summary>Last index when the request was made.</summary>
    public ulong LastIndex { get; }

    /// <summary>True when the index lies below the retained prefix (removed by compaction).</summary>
    public bool IsCompacted => Index < FirstIndex;
}

/// <summary>An entry's payload exceeds <see cref="StorageOptions.MaxEntryBytes"/>.</summary>
public sealed class EntryTooLargeException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="payloadBytes">The rejected payload's length.</param>
    /// <param name="maxEntryBytes">The configured limit.</param>
    public EntryTooLargeException(long payloadBytes, long maxEntryBytes)
        : base($"entry payload of {payloadBytes} bytes exceeds the limit of {maxEntryBytes} bytes (Storage:MaxEntryBytes)")
    {
        PayloadBytes = payloadBytes;
        MaxEntryBytes = maxEntryBytes;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public EntryTooLargeException(string message) : base(message) { }

    /// <summary>Creates the exception with a default message.</summary>
    public EntryTooLargeException() { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The cause.</param>
    public EntryTooLargeException(string message, Exception inner) : base(message, inner) { }

    /// <summary>The rejected payload's length in bytes.</summary>
    public long PayloadBytes { get; }

    /// <summary>The configured limit in bytes.</summary>
    public long MaxEntryBytes { get; }
}

/// <summary>
/// The data directory cannot be used: not creatable or writable, locked by another process, or holding
/// files the store does not recognise. Nothing in it has been modified.
/// </summary>
public sealed class DataDirectoryException : StorageException
{
    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What is wrong, naming the path.</param>
    public DataDirectoryException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What is wrong, naming the path.</param>
    /// <param name="inner">The underlying I/O error.</param>
    public DataDirectoryException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with a default message.</summary>
    public DataDirectoryException() { }
}

/// <summary>
/// A write or fdatasync failed earlier; the store stopped accepting writes because the page cache can no
/// longer be trusted to match the disk ("fsyncgate"). Reopen the store to recover from what is durable.
/// </summary>
public sealed class StorageFailedException : StorageException
{
    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What failed.</param>
    /// <param name="inner">The original I/O error.</param>
    public StorageFailedException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What failed.</param>
    public StorageFailedException(string message) : base(message) { }

    /// <summary>Creates the exception with a default message.</summary>
    public StorageFailedException() { }
}

/// <summary>An option value is outside its documented range or cannot be parsed.</summary>
public sealed class StorageConfigurationException : StorageException
{
    /// <summary>Creates the exception with a message naming the option and the accepted values.</summary>
    /// <param name="message">What is wrong.</param>
    public StorageConfigurationException(string message) : base(message) { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="inner">The cause.</param>
    public StorageConfigurationException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Creates the exception with a default message.</summary>
    public StorageConfigurationException() { }
}

/// <summary>
/// A read reached an index inside a damaged range of a sealed segment (<see cref="LogStore.DamagedRanges"/>): the
/// record failed verification and has not been repaired yet (<see cref="LogStore.RepairDamaged"/>). The store keeps
/// running; the entry is unavailable until it is rewritten from a verified copy (protocol-aware recovery, Alagappan
/// et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST 2018).
/// </summary>
public sealed class DamagedEntryException : StorageException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="index">The index that was asked for.</param>
    /// <param name="range">The damaged range holding it.</param>
    public DamagedEntryException(ulong index, DamagedRange range)
        : base($"index {index} lies in damaged range {range.FirstIndex}..{range.LastIndex} of {range.SegmentPath} ({range.Reason}); it is unavailable until repaired")
    {
        Index = index;
        Range = range;
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">What went wrong.</param>
    public DamagedEntryException(string message) : base(message) => Reason = message;

    /// <summary>Creates the exception with a default message.</summary>
    public DamagedEntryException() : this("damaged log entry") { }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">What went wrong.</param>
    /// <param name="inner">The cause.</param>
    public DamagedEntryException(string message, Exception inner) : base(message, inner) => Reason = message;

    /// <summary>The index that was asked for.</summary>
    public ulong Index { get; }

    /// <summary>The damaged range holding <see cref="Index"/>; null only for the message-only constructors.</summary>
    public DamagedRange? Range { get; }

    /// <summary>Why (for the message-only constructors).</summary>
    public string? Reason { get; }
}
