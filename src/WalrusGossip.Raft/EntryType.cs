namespace WalrusGossip.Raft;

/// <summary>
/// The kind of a replicated log entry (docs/architecture.md, "The log and its entries"). One type serves Raft, the
/// wire mapping and the store: the values are stored in one byte of every record header (src/WalrusGossip.Storage,
/// <c>RecordHeader</c>), so they are part of the on-disk format and never change meaning. 0 is not a valid kind.
/// </summary>
public enum EntryType : byte
{
    /// <summary>An application entry appended by a client; the payload is opaque to Raft.</summary>
    Normal = 1,

    /// <summary>
    /// A membership change. The payload is the full new <see cref="ClusterConfig"/> encoded by
    /// <see cref="ClusterConfig.Encode"/>; it takes effect as soon as it is appended to a log
    /// (dissertation §4.1). A payload that does not decode is ignored by every node alike.
    /// </summary>
    ConfigChange = 2,

    /// <summary>The empty entry a new leader appends at the start of its term (paper §5.4.2, §8).</summary>
    NoOp = 3,

    /// <summary>An application marker recording that a state-machine checkpoint was taken; opaque to Raft.</summary>
    CheckpointMarker = 4,

    /// <summary>
    /// A change of the replicated authorization state (roles, tokens, grants), applied by every replica's state machine
    /// in log order; opaque to Raft. Readers of the log skip it like the other internal entries.
    /// </summary>
    Security = 5,

    /// <summary>
    /// A change of a durable stream consumer (created, deleted, or its acknowledged position moved), applied by every
    /// replica's state machine in log order; opaque to Raft and skipped by readers.
    /// </summary>
    Consumer = 6,
}
