namespace WalrusGossip.Raft;

/// <summary>Kinds of message exchanged between Raft nodes.</summary>
public enum RaftMessageType
{
    /// <summary>PreVote request (dissertation §9.6): <see cref="RaftMessage.Term"/> is the term the sender would campaign in; the receiver's term does not change.</summary>
    PreVote = 0,

    /// <summary>Answer to <see cref="PreVote"/>.</summary>
    PreVoteResponse = 1,

    /// <summary>RequestVote (paper §5.2): <see cref="RaftMessage.Index"/>/<see cref="RaftMessage.LogTerm"/> are the candidate's last entry.</summary>
    Vote = 2,

    /// <summary>Answer to <see cref="Vote"/>.</summary>
    VoteResponse = 3,

    /// <summary>AppendEntries (paper §5.3): entries follow (<see cref="RaftMessage.Index"/>, <see cref="RaftMessage.LogTerm"/>).</summary>
    Append = 4,

    /// <summary>Answer to <see cref="Append"/> or <see cref="InstallSnapshot"/>; on rejection carries the conflict hint.</summary>
    AppendResponse = 5,

    /// <summary>Empty AppendEntries that keeps followers from campaigning and confirms leadership for ReadIndex.</summary>
    Heartbeat = 6,

    /// <summary>Answer to <see cref="Heartbeat"/>; echoes <see cref="RaftMessage.Context"/>.</summary>
    HeartbeatResponse = 7,

    /// <summary>InstallSnapshot (paper §7): carries <see cref="RaftMessage.Snapshot"/>.</summary>
    InstallSnapshot = 8,

    /// <summary>Tells the transfer target to campaign immediately (dissertation §3.10).</summary>
    TimeoutNow = 9,

    /// <summary>A follower forwards a linearizable read to the leader (dissertation §6.4).</summary>
    ReadIndex = 10,

    /// <summary>The leader's answer to <see cref="ReadIndex"/>: the read index in <see cref="RaftMessage.Index"/>.</summary>
    ReadIndexResponse = 11,

    /// <summary>
    /// One chunk of an InstallSnapshot transfer (paper §7, Figure 13's offset/data/done fields), in
    /// <see cref="RaftMessage.Chunk"/>. The node layer streams the snapshot the Raft core emitted as
    /// <see cref="InstallSnapshot"/> and steps the reassembled, checksum-verified snapshot into the follower's core;
    /// <see cref="RaftNode.Step"/> ignores chunks.
    /// </summary>
    SnapshotChunk = 12,

    /// <summary>
    /// The follower's answer to <see cref="SnapshotChunk"/>: <see cref="SnapshotChunk.Offset"/> is how many bytes of the
    /// snapshot it holds (the next byte it needs), so the leader resumes there after a loss or a dropped connection;
    /// <see cref="RaftMessage.Reject"/> means it discarded what it held (bad checksum, undecodable, too large). Ignored by
    /// <see cref="RaftNode.Step"/>.
    /// </summary>
    SnapshotChunkResponse = 13,

    /// <summary>
    /// Protocol-aware repair (Alagappan et al., FAST 2018): a node whose log holds a damaged range asks a peer for the
    /// entries [<see cref="RaftMessage.Index"/>, <see cref="RaftMessage.Commit"/>] (inclusive). Handled by the node
    /// layer; ignored by <see cref="RaftNode.Step"/>.
    /// </summary>
    RepairRequest = 14,

    /// <summary>
    /// The answer to <see cref="RepairRequest"/>: <see cref="RaftMessage.Entries"/> from <see cref="RaftMessage.Index"/> + 1
    /// on (as in <see cref="Append"/>, Index is the one before the first entry), <see cref="RaftMessage.Commit"/> the responder's commit index, <see cref="RaftMessage.Reject"/> when it cannot
    /// serve the range (compacted, beyond its log, or damaged itself). The requester verifies every entry's term before
    /// rewriting. Ignored by <see cref="RaftNode.Step"/>.
    /// </summary>
    RepairResponse = 15,

    /// <summary>
    /// Replica consistency check (etcd's corruption check, on log ranges): the leader asks a peer for the XxHash3 of its
    /// committed entries [<see cref="RaftMessage.Index"/>, <see cref="RaftMessage.Commit"/>] (inclusive);
    /// <see cref="RaftMessage.Context"/> holds the 8-byte check id (little-endian). Handled by the node layer; ignored by
    /// <see cref="RaftNode.Step"/>.
    /// </summary>
    HashRequest = 16,

    /// <summary>
    /// The answer to <see cref="HashRequest"/>: the range the peer hashed ([<see cref="RaftMessage.Index"/>,
    /// <see cref="RaftMessage.Commit"/>], the asked one clipped to what it holds), <see cref="RaftMessage.Context"/> the
    /// check id followed by the 8-byte hash (16 bytes, little-endian), <see cref="RaftMessage.Reject"/> when it holds
    /// none of the range or part of it is damaged. Ignored by <see cref="RaftNode.Step"/>.
    /// </summary>
    HashResponse = 17,

    /// <summary>
    /// The leader tells a node that an operator removed it from the cluster (the configuration entry that removed it
    /// is committed, and the leader stops replicating to a removed node, so it may never receive that entry). The node
    /// layer acts on it: the node stops campaigning and voting and announces itself removed in gossip, so autopilot does
    /// not add it back. <see cref="RaftMessage.Index"/> is the index of the removing configuration entry. Ignored by
    /// <see cref="RaftNode.Step"/>.
    /// </summary>
    Removed = 18,
}

/// <summary>
/// A message between Raft nodes. One shape for every kind, like etcd's raftpb.Message, so the wire
/// encoding maps field for field. Fields a kind does not use are zero or empty.
/// </summary>
public sealed class RaftMessage
{
    /// <summary>What the message is.</summary>
    public RaftMessageType Type { get; init; }

    /// <summary>Sender node id (non-zero).</summary>
    public ulong From { get; init; }

    /// <summary>Recipient node id (non-zero).</summary>
    public ulong To { get; init; }

    /// <summary>The sender's current term (for <see cref="RaftMessageType.PreVote"/>: the term it would campaign in).</summary>
    public ulong Term { get; init; }

    /// <summary>
    /// Append: term of the entry at <see cref="Index"/>. Vote/PreVote: term of the candidate's last entry.
    /// Rejected AppendResponse: the follower's term at <see cref="RejectHint"/> (the conflict term).
    /// </summary>
    public ulong LogTerm { get; init; }

    /// <summary>
    /// Append: index preceding <see cref="Entries"/>. Vote/PreVote: candidate's last index. AppendResponse:
    /// the follower's last matching index, or on rejection the rejected <see cref="Index"/>. ReadIndexResponse: the read index.
    /// </summary>
    public ulong Index { get; init; }

    /// <summary>Entries to append (Append only), in index order, contiguous from <see cref="Index"/> + 1.</summary>
    public IReadOnlyList<LogEntry> Entries { get; init; } = [];

    /// <summary>The leader's commit index (Append, Heartbeat).</summary>
    public ulong Commit { get; init; }

    /// <summary>True when a response refuses the request.</summary>
    public bool Reject { get; init; }

    /// <summary>Rejected AppendResponse: the conflict index, the last index the leader should try next (paper §5.3, fast backtracking).</summary>
    public ulong RejectHint { get; init; }

    /// <summary>Vote/PreVote: set when the campaign follows a leadership transfer, so followers ignore their leader lease (dissertation §3.10).</summary>
    public bool Transfer { get; init; }

    /// <summary>InstallSnapshot: the checkpoint and its metadata.</summary>
    public RaftSnapshot? Snapshot { get; init; }

    /// <summary>SnapshotChunk and SnapshotChunkResponse: the chunk, or for a response its position (no data).</summary>
    public SnapshotChunk? Chunk { get; init; }

    /// <summary>Heartbeat, HeartbeatResponse, ReadIndex, ReadIndexResponse: the read request's context bytes.</summary>
    public ReadOnlyMemory<byte> Context { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Type} {From}->{To} term={Term} logTerm={LogTerm} index={Index} commit={Commit} entries={Entries.Count} reject={Reject} hint={RejectHint}";
}
