namespace WalrusGossip.Client;

/// <summary>How current a read must be.</summary>
public enum Consistency
{
    /// <summary>
    /// The read reflects every append acknowledged before it started: the serving agent confirms with a quorum that
    /// the leader is still the leader and waits until it has applied that leader's commit index (ReadIndex, Raft
    /// dissertation §6.4). The default.
    /// </summary>
    Linearizable = 0,

    /// <summary>Served from the answering agent's local replica without contacting the leader; may lag behind.</summary>
    Stale = 1,
}
