namespace WalrusGossip.Raft;

/// <summary>The kind of a replicated log entry (ARCHITECTURE.md, "The log and its entries").</summary>
public enum EntryType : byte
{
    /// <summary>An application entry; the payload is opaque to Raft.</summary>
    Normal = 0,

    /// <summary>
    /// A membership change. The payload is the full new <see cref="ClusterConfig"/> encoded by
    /// <see cref="ClusterConfig.Encode"/>; it takes effect as soon as it is appended to a log
    /// (dissertation §4.1). A payload that does not decode is ignored by every node alike.
    /// </summary>
    ConfigChange = 1,

    /// <summary>The empty entry a new leader appends at the start of its term (paper §5.4.2, §8).</summary>
    NoOp = 2,

    /// <summary>An application marker recording that a state-machine checkpoint was taken; opaque to Raft.</summary>
    CheckpointMarker = 3,
}
