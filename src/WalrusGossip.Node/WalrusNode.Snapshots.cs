using Microsoft.Extensions.Logging;
using WalrusGossip.Node.Snapshots;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>
/// InstallSnapshot in chunks (Raft paper §7, Figure 13). The Raft core emits one InstallSnapshot message with the
/// whole snapshot; the node streams it to the follower as <see cref="RaftMessageType.SnapshotChunk"/> messages bounded
/// by <see cref="NodeOptions.SnapshotChunkBytes"/> and a per-follower window, resumable from the follower's position,
/// and reports a transfer that stops making progress back to Raft (<see cref="RaftNode.ReportSnapshot"/>), which
/// retries it. The follower steps the snapshot into its Raft core only once it is whole and its CRC-32C verifies.
/// </summary>
public sealed partial class WalrusNode
{
    private readonly Dictionary<ulong, SnapshotSender> _snapshotSenders = [];
    private readonly List<RaftMessage> _snapshotOutbox = [];
    private SnapshotReceiver? _snapshotReceiver;
    private (ulong Index, ulong Term, byte[] Bytes, uint Crc)? _encodedSnapshot;

    /// <summary>Snapshot transfers this node began as leader (each InstallSnapshot Raft asked for).</summary>
    public long SnapshotTransfersStarted { get; private set; }

    /// <summary>Transfers that resumed from a position past byte 0 (the follower held part of the snapshot already).</summary>
    public long SnapshotTransfersResumed { get; private set; }

    /// <summary>Transfers that ran out of retransmissions and were reported failed to Raft (which retries).</summary>
    public long SnapshotTransfersFailed { get; private set; }

    /// <summary>Snapshot chunk messages sent, probes and retransmissions included.</summary>
    public long SnapshotChunksSent { get; private set; }

    /// <summary>Snapshot bytes sent in chunks, retransmissions included.</summary>
    public long SnapshotBytesSent { get; private set; }

    /// <summary>Reassembled snapshots this node refused as follower (checksum mismatch, undecodable, too large).</summary>
    public long SnapshotsRejected { get; private set; }

    private SnapshotTransferOptions TransferOptions => new(
        Math.Max(256, _options.SnapshotChunkBytes),
        Math.Max(Math.Max(256, _options.SnapshotChunkBytes), _options.SnapshotWindowBytes),
        _options.SnapshotChunkTimeout,
        MaxAttempts: 5,
        Math.Min(_options.MaxSnapshotBytes, Array.MaxLength),
        AbandonAfter: TimeSpan.FromTicks(_options.SnapshotChunkTimeout.Ticks * 30));

    private void StartSnapshotTransfer(RaftMessage install)
    {
        var snapshot = install.Snapshot;
        if (snapshot is null || snapshot.IsEmpty)
        {
            return;
        }

        var meta = snapshot.Metadata;
        if (_snapshotSenders.TryGetValue(install.To, out var running) && running.Index == meta.Index && running.SnapshotTerm == meta.Term && running.Term == install.Term)
        {
            return; // already streaming this snapshot there
        }

        if (_encodedSnapshot is not { } encoded || encoded.Index != meta.Index || encoded.Term != meta.Term)
        {
            var (bytes, crc) = SnapshotCodec.Encode(snapshot);
            encoded = (meta.Index, meta.Term, bytes, crc);
            _encodedSnapshot = encoded;
        }

        var sender = new SnapshotSender(Id, install.To, install.Term, meta.Index, meta.Term, encoded.Bytes, encoded.Crc, TransferOptions, _clock.Now);
        _snapshotSenders[install.To] = sender;
        SnapshotTransfersStarted++;
        LogSnapshotTransferStarted(_logger, meta.Index, meta.Term, install.To, encoded.Bytes.Length);
        sender.Start(_snapshotOutbox);
        FlushSnapshotOutbox();
    }

    private void ReceiveSnapshotTransfer(RaftMessage m)
    {
        if (m.Chunk is not { } chunk)
        {
            return;
        }

        var raft = Raft;
        if (m.Type == RaftMessageType.SnapshotChunkResponse)
        {
            if (_snapshotSenders.TryGetValue(m.From, out var sender) && sender.Index == chunk.SnapshotIndex && sender.SnapshotTerm == chunk.SnapshotTerm
                && raft.Role == RaftRole.Leader && raft.Term == sender.Term)
            {
                var wasProbing = sender.IsProbing;
                if (sender.OnResponse(chunk, m.Reject, _clock.Now, _snapshotOutbox))
                {
                    _snapshotSenders.Remove(m.From); // the follower installs it and answers through Raft (AppendResponse)
                    LogSnapshotTransferDone(_logger, sender.Index, m.From, sender.TotalBytes, sender.Resumed);
                }
                else if (m.Reject)
                {
                    SnapshotsRejected++;
                }

                if (wasProbing && sender.Resumed)
                {
                    SnapshotTransfersResumed++;
                }

                FlushSnapshotOutbox();
            }

            return;
        }

        if (m.Term < raft.Term)
        {
            return; // a deposed leader's transfer
        }

        _snapshotReceiver ??= new SnapshotReceiver(TransferOptions);
        var outcome = _snapshotReceiver.OnChunk(chunk, _clock.Now, out var position);
        if (outcome == ChunkOutcome.Rejected)
        {
            SnapshotsRejected++;
            LogSnapshotRejected(_logger, m.From, _snapshotReceiver.RejectReason);
        }

        _transport.SendRaft(new RaftMessage
        {
            Type = RaftMessageType.SnapshotChunkResponse,
            From = Id,
            To = m.From,
            Term = raft.Term,
            Reject = outcome == ChunkOutcome.Rejected,
            Chunk = new SnapshotChunk(chunk.SnapshotIndex, chunk.SnapshotTerm, position, chunk.TotalBytes, chunk.Crc32C, ReadOnlyMemory<byte>.Empty),
        });

        if (outcome == ChunkOutcome.Complete)
        {
            // A repairing node may adopt it in place of a damaged range; Raft answers the leader either way (§7).
            AdoptSnapshotForRepair(_snapshotReceiver.Completed!);
            Raft.Step(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = m.From, To = Id, Term = m.Term, Snapshot = _snapshotReceiver.Completed });
            ProcessReady();
        }
    }

    private void TickSnapshotTransfers(TimeSpan now)
    {
        _snapshotReceiver?.OnTick(now);
        if (_snapshotSenders.Count == 0)
        {
            return;
        }

        var raft = Raft;
        List<ulong>? finished = null;
        foreach (var (peer, sender) in _snapshotSenders)
        {
            if (raft.Role != RaftRole.Leader || raft.Term != sender.Term)
            {
                (finished ??= []).Add(peer);
            }
            else if (!sender.OnTick(now, _snapshotOutbox))
            {
                (finished ??= []).Add(peer);
                SnapshotTransfersFailed++;
                LogSnapshotTransferFailed(_logger, sender.Index, peer, sender.Acked, sender.TotalBytes);
                Raft.ReportSnapshot(peer, success: false);
                _repairSnapshotsPushed.Remove(peer); // a repair push that failed may be tried again
            }
        }

        foreach (var peer in finished ?? [])
        {
            _snapshotSenders.Remove(peer);
        }

        if (_snapshotSenders.Count == 0 && raft.Role != RaftRole.Leader)
        {
            _encodedSnapshot = null;
        }

        FlushSnapshotOutbox();
    }

    private void FlushSnapshotOutbox()
    {
        foreach (var message in _snapshotOutbox)
        {
            SnapshotChunksSent++;
            SnapshotBytesSent += message.Chunk!.Data.Length;
            _transport.SendRaft(message);
        }

        _snapshotOutbox.Clear();
    }

    [LoggerMessage(EventId = 50, Level = LogLevel.Information, Message = "sending snapshot {Index} (term {Term}) to node {Peer}: {Bytes} bytes in chunks")]
    private static partial void LogSnapshotTransferStarted(ILogger logger, ulong index, ulong term, ulong peer, int bytes);

    [LoggerMessage(EventId = 51, Level = LogLevel.Information, Message = "node {Peer} holds snapshot {Index} ({Bytes} bytes; resumed: {Resumed})")]
    private static partial void LogSnapshotTransferDone(ILogger logger, ulong index, ulong peer, ulong bytes, bool resumed);

    [LoggerMessage(EventId = 52, Level = LogLevel.Warning, Message = "snapshot {Index} to node {Peer} made no progress at byte {Acked} of {Bytes}; reported failed, Raft will retry")]
    private static partial void LogSnapshotTransferFailed(ILogger logger, ulong index, ulong peer, ulong acked, ulong bytes);

    [LoggerMessage(EventId = 53, Level = LogLevel.Warning, Message = "refused a snapshot from node {Peer}: {Reason}")]
    private static partial void LogSnapshotRejected(ILogger logger, ulong peer, string reason);
}
