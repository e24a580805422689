namespace WalrusGossip.Storage;

/// <summary>
/// The kind of a log entry, stored in one byte of the record header.
/// Values are part of the on-disk format and never change meaning.
/// </summary>
public enum EntryType : byte
{
    /// <summary>An application entry appended by a client.</summary>
    Normal = 1,

    /// <summary>A cluster configuration change (Raft dissertation ch. 4).</summary>
    ConfigChange = 2,

    /// <summary>The empty entry a new leader appends when it takes office (Raft paper §5.4.2, §8).</summary>
    NoOp = 3,

    /// <summary>Marks that a checkpoint was taken at this point of the log.</summary>
    CheckpointMarker = 4,
}
