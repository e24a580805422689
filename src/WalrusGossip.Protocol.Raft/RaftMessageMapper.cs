using Google.Protobuf;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;

namespace WalrusGossip.Protocol;

/// <summary>
/// Maps <see cref="RaftMessage"/> to and from its wire form <see cref="RaftEnvelope"/>, field for field, so that
/// <c>FromProto(ToProto(m))</c> equals <c>m</c>. Byte fields are wrapped, not copied: a message built by
/// <see cref="ToProto(RaftMessage)"/> must be encoded before the payloads it refers to change.
/// </summary>
public static class RaftMessageMapper
{
    /// <summary>Builds the wire form of a Raft message.</summary>
    /// <param name="message">The message.</param>
    /// <returns>The envelope.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The message or an entry has a type outside its enum.</exception>
    public static RaftEnvelope ToProto(RaftMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        var envelope = new RaftEnvelope
        {
            Type = ToKind(message.Type),
            From = message.From,
            To = message.To,
            Term = message.Term,
            LogTerm = message.LogTerm,
            Index = message.Index,
            Commit = message.Commit,
            Reject = message.Reject,
            RejectHint = message.RejectHint,
            Transfer = message.Transfer,
            Context = Wrap(message.Context),
        };

        var entries = message.Entries;
        for (var i = 0; i < entries.Count; i++)
        {
            envelope.Entries.Add(ToProto(entries[i]));
        }

        if (message.Snapshot is { } snapshot)
        {
            envelope.Snapshot = ToProto(snapshot);
        }

        if (message.Chunk is { } chunk)
        {
            envelope.Chunk = new RaftSnapshotChunk
            {
                SnapshotIndex = chunk.SnapshotIndex,
                SnapshotTerm = chunk.SnapshotTerm,
                Offset = chunk.Offset,
                TotalBytes = chunk.TotalBytes,
                Crc32C = chunk.Crc32C,
                Data = Wrap(chunk.Data),
            };
        }

        return envelope;
    }

    /// <summary>Rebuilds a Raft message from its wire form, validating every field.</summary>
    /// <param name="envelope">The envelope, as received.</param>
    /// <returns>The message. Byte fields share memory with <paramref name="envelope"/>, which is immutable once parsed.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.Malformed"/>: an enum value is unknown, a node id is
    /// zero, entries are not contiguous from Index + 1 or have term 0, or the snapshot membership is invalid.</exception>
    public static RaftMessage FromProto(RaftEnvelope envelope)
    {
        ArgumentNullException.ThrowIfNull(envelope);
        var type = FromKind(envelope.Type);
        if (envelope.From == 0 || envelope.To == 0)
        {
            throw Malformed($"{type} has node id 0 (from={envelope.From}, to={envelope.To})");
        }

        var entries = envelope.Entries.Count == 0 ? [] : new LogEntry[envelope.Entries.Count];
        for (var i = 0; i < entries.Length; i++)
        {
            var e = envelope.Entries[i];
            if (e.Index != envelope.Index + 1 + (ulong)i)
            {
                throw Malformed($"{type} entry {i} has index {e.Index}; expected {envelope.Index + 1 + (ulong)i}");
            }

            if (e.Term == 0)
            {
                throw Malformed($"{type} entry at index {e.Index} has term 0");
            }

            entries[i] = new LogEntry(e.Index, e.Term, FromWire(e.Type), e.Payload.Memory);
        }

        return new RaftMessage
        {
            Type = type,
            From = envelope.From,
            To = envelope.To,
            Term = envelope.Term,
            LogTerm = envelope.LogTerm,
            Index = envelope.Index,
            Entries = entries,
            Commit = envelope.Commit,
            Reject = envelope.Reject,
            RejectHint = envelope.RejectHint,
            Transfer = envelope.Transfer,
            Snapshot = envelope.Snapshot is { } s ? FromWire(s) : null,
            Chunk = envelope.Chunk is { } c ? FromWire(type, c) : null,
            Context = envelope.Context.Memory,
        };
    }

    private static SnapshotChunk FromWire(RaftMessageType type, RaftSnapshotChunk chunk)
    {
        var length = (ulong)chunk.Data.Length;
        if (chunk.SnapshotIndex == 0 || chunk.SnapshotTerm == 0 || chunk.TotalBytes == 0
            || chunk.Offset > chunk.TotalBytes || length > chunk.TotalBytes - chunk.Offset)
        {
            throw Malformed($"{type} chunk of snapshot {chunk.SnapshotIndex} (term {chunk.SnapshotTerm}) has offset {chunk.Offset} and {length} bytes of {chunk.TotalBytes}");
        }

        return new SnapshotChunk(chunk.SnapshotIndex, chunk.SnapshotTerm, chunk.Offset, chunk.TotalBytes, chunk.Crc32C, chunk.Data.Memory);
    }

    /// <summary>Builds the wire form of one log entry (payload wrapped, not copied).</summary>
    /// <param name="entry">The entry.</param>
    /// <returns>The wire entry.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The entry type is outside its enum.</exception>
    public static RaftEntry ToProto(in LogEntry entry) =>
        new() { Index = entry.Index, Term = entry.Term, Type = ToWire(entry.Type), Payload = Wrap(entry.Payload) };

    /// <summary>Rebuilds a log entry from its wire form (payload shared, not copied).</summary>
    /// <param name="entry">The wire entry.</param>
    /// <returns>The entry.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.Malformed"/>: index or term 0, or an unknown type.</exception>
    public static LogEntry FromProto(RaftEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Index == 0 || entry.Term == 0)
        {
            throw Malformed($"entry has index {entry.Index} and term {entry.Term}; both must be non-zero");
        }

        return new LogEntry(entry.Index, entry.Term, FromWire(entry.Type), entry.Payload.Memory);
    }

    /// <summary>Builds the wire form of a snapshot (data wrapped, not copied).</summary>
    /// <param name="snapshot">The snapshot.</param>
    /// <returns>The wire snapshot.</returns>
    public static RaftSnapshotData ToProto(RaftSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        var data = new RaftSnapshotData { Index = snapshot.Metadata.Index, Term = snapshot.Metadata.Term, Data = Wrap(snapshot.Data) };
        data.Voters.AddRange(snapshot.Metadata.Config.Voters);
        data.Learners.AddRange(snapshot.Metadata.Config.Learners);
        return data;
    }

    /// <summary>Rebuilds a snapshot from its wire form.</summary>
    /// <param name="data">The wire snapshot.</param>
    /// <returns>The snapshot; its data shares memory with <paramref name="data"/>.</returns>
    /// <exception cref="ProtocolException"><see cref="ProtocolErrorKind.Malformed"/>: the membership is invalid.</exception>
    public static RaftSnapshot FromProto(RaftSnapshotData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return FromWire(data);
    }

    private static RaftSnapshot FromWire(RaftSnapshotData data)
    {
        ClusterConfig config;
        try
        {
            config = ClusterConfig.Create(data.Voters, data.Learners);
        }
        catch (ArgumentException ex)
        {
            throw new ProtocolException(ProtocolErrorKind.Malformed, $"snapshot at index {data.Index} has an invalid membership: {ex.Message}", ex);
        }

        return new RaftSnapshot(new SnapshotMetadata(data.Index, data.Term, config), data.Data.Memory);
    }

    private static ByteString Wrap(ReadOnlyMemory<byte> bytes) =>
        bytes.IsEmpty ? ByteString.Empty : UnsafeByteOperations.UnsafeWrap(bytes);

    private static RaftMessageKind ToKind(RaftMessageType type) => type switch
    {
        RaftMessageType.PreVote => RaftMessageKind.PreVote,
        RaftMessageType.PreVoteResponse => RaftMessageKind.PreVoteResponse,
        RaftMessageType.Vote => RaftMessageKind.Vote,
        RaftMessageType.VoteResponse => RaftMessageKind.VoteResponse,
        RaftMessageType.Append => RaftMessageKind.Append,
        RaftMessageType.AppendResponse => RaftMessageKind.AppendResponse,
        RaftMessageType.Heartbeat => RaftMessageKind.Heartbeat,
        RaftMessageType.HeartbeatResponse => RaftMessageKind.HeartbeatResponse,
        RaftMessageType.InstallSnapshot => RaftMessageKind.InstallSnapshot,
        RaftMessageType.TimeoutNow => RaftMessageKind.TimeoutNow,
        RaftMessageType.ReadIndex => RaftMessageKind.ReadIndex,
        RaftMessageType.ReadIndexResponse => RaftMessageKind.ReadIndexResponse,
        RaftMessageType.SnapshotChunk => RaftMessageKind.SnapshotChunk,
        RaftMessageType.SnapshotChunkResponse => RaftMessageKind.SnapshotChunkResponse,
        RaftMessageType.RepairRequest => RaftMessageKind.RepairRequest,
        RaftMessageType.RepairResponse => RaftMessageKind.RepairResponse,
        RaftMessageType.HashRequest => RaftMessageKind.HashRequest,
        RaftMessageType.HashResponse => RaftMessageKind.HashResponse,
        RaftMessageType.Removed => RaftMessageKind.Removed,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown Raft message type"),
    };

    private static RaftMessageType FromKind(RaftMessageKind kind) => kind switch
    {
        RaftMessageKind.PreVote => RaftMessageType.PreVote,
        RaftMessageKind.PreVoteResponse => RaftMessageType.PreVoteResponse,
        RaftMessageKind.Vote => RaftMessageType.Vote,
        RaftMessageKind.VoteResponse => RaftMessageType.VoteResponse,
        RaftMessageKind.Append => RaftMessageType.Append,
        RaftMessageKind.AppendResponse => RaftMessageType.AppendResponse,
        RaftMessageKind.Heartbeat => RaftMessageType.Heartbeat,
        RaftMessageKind.HeartbeatResponse => RaftMessageType.HeartbeatResponse,
        RaftMessageKind.InstallSnapshot => RaftMessageType.InstallSnapshot,
        RaftMessageKind.TimeoutNow => RaftMessageType.TimeoutNow,
        RaftMessageKind.ReadIndex => RaftMessageType.ReadIndex,
        RaftMessageKind.ReadIndexResponse => RaftMessageType.ReadIndexResponse,
        RaftMessageKind.SnapshotChunk => RaftMessageType.SnapshotChunk,
        RaftMessageKind.SnapshotChunkResponse => RaftMessageType.SnapshotChunkResponse,
        RaftMessageKind.RepairRequest => RaftMessageType.RepairRequest,
        RaftMessageKind.RepairResponse => RaftMessageType.RepairResponse,
        RaftMessageKind.HashRequest => RaftMessageType.HashRequest,
        RaftMessageKind.HashResponse => RaftMessageType.HashResponse,
        RaftMessageKind.Removed => RaftMessageType.Removed,
        _ => throw Malformed($"unknown Raft message kind {(int)kind}"),
    };

    private static RaftEntryType ToWire(EntryType type) => type switch
    {
        EntryType.Normal => RaftEntryType.Normal,
        EntryType.ConfigChange => RaftEntryType.ConfigChange,
        EntryType.NoOp => RaftEntryType.NoOp,
        EntryType.CheckpointMarker => RaftEntryType.CheckpointMarker,
        EntryType.Security => RaftEntryType.Security,
        EntryType.Consumer => RaftEntryType.Consumer,
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, "unknown entry type"),
    };

    private static EntryType FromWire(RaftEntryType type) => type switch
    {
        RaftEntryType.Normal => EntryType.Normal,
        RaftEntryType.ConfigChange => EntryType.ConfigChange,
        RaftEntryType.NoOp => EntryType.NoOp,
        RaftEntryType.CheckpointMarker => EntryType.CheckpointMarker,
        RaftEntryType.Security => EntryType.Security,
        RaftEntryType.Consumer => EntryType.Consumer,
        _ => throw Malformed($"unknown Raft entry type {(int)type}"),
    };

    private static ProtocolException Malformed(string message) => new(ProtocolErrorKind.Malformed, message);
}
