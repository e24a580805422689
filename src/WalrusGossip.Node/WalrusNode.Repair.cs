using Microsoft.Extensions.Logging;
using WalrusGossip.Raft;
using WalrusGossip.Storage;

namespace WalrusGossip.Node;

/// <summary>
/// Protocol-aware repair of damaged log records (Alagappan et al., "Protocol-Aware Recovery for Consensus-Based
/// Storage", FAST 2018). A record of a sealed segment that fails verification is not a crash: the store records the
/// range (<see cref="LogStore.Scrub"/> at start, or a read), this node abstains (<see cref="RaftNode.SetAbstaining"/>:
/// no campaign, no votes, a leader steps down) and applies committed entries only below the range
/// (<see cref="RaftNode.SetApplyLimit"/>), asks its peers for the range (<see cref="RaftMessageType.RepairRequest"/>,
/// the leader first, then the others in turn, again every <see cref="RepairRetryInterval"/>), accepts an answer only
/// when every entry holds the index and the term the store expects there (by Log Matching, the same entry), rewrites
/// the range (<see cref="LogStore.RepairDamaged"/>) and then takes part again. Hard state (term, vote, commit) is never
/// changed to repair. A range the leader has compacted away (its checkpoint covers it, so every entry of it is
/// committed) is replaced instead: the leader streams its checkpoint to the repairing node, which adopts it in place
/// of the entries it cannot read and keeps its log after it (<see cref="AdoptSnapshotForRepair"/>; walrus-sim seed 6,
/// 3 nodes, where every peer had compacted the range and the node abstained for good). A range no peer can serve
/// otherwise (all damaged there) stays damaged: the node keeps abstaining and asking, and logs each refusal.
/// </summary>
public sealed partial class WalrusNode
{
    /// <summary>How long a repair request waits for its answer before the next peer is asked.</summary>
    public static readonly TimeSpan RepairRetryInterval = TimeSpan.FromMilliseconds(500);

    /// <summary>How soon after a refusal the next peer is asked (at most one refusal-driven request per this interval).</summary>
    private static readonly TimeSpan RepairRefusedBackoff = TimeSpan.FromMilliseconds(100);

    private TimeSpan _nextRepairRequest;

    /// <summary>As leader: the checkpoint index last streamed to each repairing peer in place of a compacted range.</summary>
    private readonly Dictionary<ulong, ulong> _repairSnapshotsPushed = [];
    private int _repairAttempts;

    /// <summary>True while part of the local log is damaged and this node abstains from elections until it is repaired.</summary>
    public bool IsRepairing => _raft?.IsAbstaining == true;

    /// <summary>Damaged ranges found in the local log since start.</summary>
    public long DamagedRangesFound => _storage?.Log.DamagedRangesFound ?? 0;

    /// <summary>Entries rewritten from verified peer copies since start.</summary>
    public long EntriesRepaired => _storage?.Log.EntriesRepaired ?? 0;

    /// <summary>Repair requests sent since start.</summary>
    public long RepairRequestsSent { get; private set; }

    /// <summary>Repair answers refused because an entry did not hold the expected index or term.</summary>
    public long RepairResponsesRejected { get; private set; }

    /// <summary>At start, before the Raft core is built: scrubs every sealed segment (reads the retained log once).</summary>
    private void ScrubAtStart()
    {
        foreach (var range in Storage.Log.Scrub())
        {
            LogDamaged(_logger, range.FirstIndex, range.LastIndex, range.SegmentPath, range.Reason);
        }
    }

    /// <summary>Abstains and asks for the damaged range while there is one; takes part again once none is left.</summary>
    private void CheckDamage(TimeSpan now)
    {
        var raft = Raft;
        var first = Storage.Log.FirstDamagedIndex;
        if (first == 0)
        {
            if (raft.IsAbstaining)
            {
                raft.RebuildConfiguration(); // start-up could not read configuration entries in the damaged range
                raft.SetAbstaining(false);
                raft.SetApplyLimit(ulong.MaxValue);
                LogRepairDone(_logger, EntriesRepaired);
            }

            return;
        }

        if (!raft.IsAbstaining)
        {
            raft.SetAbstaining(true);
            _nextRepairRequest = now;
            LogAbstaining(_logger, first);
        }

        raft.SetApplyLimit(first - 1);
        if (DropDamageCoveredByCheckpoint())
        {
            CheckDamage(now);
            return;
        }

        if (now >= _nextRepairRequest)
        {
            SendRepairRequest(now);
        }
    }

    /// <summary>
    /// A damaged range whose whole segment lies at or below this node's adopted checkpoint is not needed: the
    /// checkpoint holds the state those entries produced, exactly as after retention. The log prefix through that
    /// segment is dropped (its file deleted) instead of repaired; peers that compacted the range could not serve it
    /// anyway (walrus-sim seed 6). This also finishes an adoption of a peer's checkpoint (<see cref="AdoptSnapshotForRepair"/>)
    /// that a crash interrupted between the checkpoint write and the drop. Returns true when it did.
    /// </summary>
    private bool DropDamageCoveredByCheckpoint()
    {
        var ranges = Storage.Log.DamagedRanges;
        if (ranges.Count == 0 || _raftLog is null || IsCheckpointing || ranges[0].SegmentLastIndex > CheckpointIndex)
        {
            return false;
        }

        // Whole segments only: the first retained index stays at a segment's start, so no record below it is left in a
        // retained segment (where a later scrub would find damage the log no longer holds; walrus-sim seed 21).
        var range = ranges[0];
        var before = Storage.Log.FirstIndex;
        _raftLog.Retain(range.SegmentLastIndex + 1);
        if (Storage.Log.FirstDamagedIndex == range.FirstIndex)
        {
            return false; // the store kept the segment (it holds the log's first retained entries): repair from peers as usual
        }

        DamageDroppedBelowCheckpoint++;
        PublishCommitted();
        LogDamageDropped(_logger, range.FirstIndex, range.LastIndex, CheckpointIndex, before, Storage.Log.FirstIndex);
        return true;
    }

    /// <summary>Damaged ranges dropped with the log prefix because this node's own checkpoint covered them, since start.</summary>
    public long DamageDroppedBelowCheckpoint { get; private set; }

    /// <summary>Damaged ranges replaced by a leader's checkpoint (the leader had compacted them), since start.</summary>
    public long DamageReplacedBySnapshot { get; private set; }

    /// <summary>
    /// Adopts a whole, verified snapshot received while repairing when it covers the segment of the first damaged range
    /// and this log holds its last entry with its term: the checkpoint is written, the state machine restored from it,
    /// the log through the damaged segment dropped (whole segments only, as retention does), and the entries after the
    /// snapshot kept and applied (Raft §7's "retain the log entries following it"). Every entry the snapshot covers is
    /// committed: a peer checkpoints only applied entries. A snapshot that ends inside the damaged segment is left
    /// alone (the leader's next checkpoint will cover it).
    /// </summary>
    /// <remarks>The caller steps the snapshot into Raft either way, which answers the leader (§7).</remarks>
    private void AdoptSnapshotForRepair(RaftSnapshot snapshot)
    {
        var ranges = Storage.Log.DamagedRanges;
        if (!IsRepairing || ranges.Count == 0 || snapshot.IsEmpty || _raftLog is null)
        {
            return;
        }

        var meta = snapshot.Metadata;
        var log = Storage.Log;
        if (meta.Index < ranges[0].SegmentLastIndex || meta.Index < _applied || meta.Index > log.LastIndex || meta.Index < log.FirstIndex
            || log.TermAt(meta.Index) != meta.Term)
        {
            return;
        }

        try
        {
            _raftLog.AdoptPeerSnapshot(snapshot, ranges[0].SegmentLastIndex + 1);
        }
        catch (IOException e)
        {
            LogRepairFailed(_logger, ranges[0].FirstIndex, ranges[0].LastIndex, e.Message);
            return;
        }

        var before = _applied;
        ApplySnapshot(snapshot);
        Raft.AdvanceToRestoredSnapshot(meta.Index, meta.Term);
        DamageReplacedBySnapshot++;
        PublishCommitted();
        LogDamageReplacedBySnapshot(_logger, ranges[0].FirstIndex, ranges[0].LastIndex, meta.Index, before, Storage.Log.FirstIndex);
        CheckDamage(_clock.Now);
    }

    private void SendRepairRequest(TimeSpan now)
    {
        var ranges = Storage.Log.DamagedRanges;
        if (ranges.Count == 0)
        {
            return;
        }

        var status = Raft.Status;
        var peers = status.Config.Voters.Concat(status.Config.Learners).Where(p => p != Id).Distinct().Order().ToList();
        _nextRepairRequest = now + RepairRetryInterval;
        if (peers.Count == 0)
        {
            return;
        }

        // The leader first (it holds every committed entry), then every peer in turn.
        var attempt = _repairAttempts++;
        var to = status.Leader != 0 && status.Leader != Id && attempt % 2 == 0 ? status.Leader : peers[attempt / 2 % peers.Count];
        var range = ranges[0];
        RepairRequestsSent++;
        _transport.SendRaft(new RaftMessage
        {
            Type = RaftMessageType.RepairRequest,
            From = Id,
            To = to,
            Term = status.Term,
            Index = range.FirstIndex,
            Commit = range.LastIndex,
        });
    }

    /// <summary>Answers a peer's repair request, or verifies and applies an answer to ours.</summary>
    private void ReceiveRepair(RaftMessage m)
    {
        if (m.Type == RaftMessageType.RepairRequest)
        {
            AnswerRepairRequest(m);
            return;
        }

        var now = _clock.Now;
        if (m.Reject || m.Entries.Count == 0)
        {
            LogRepairRefused(_logger, m.From, m.Index + 1);
            // Ask the next peer soon, not at once: when every peer refuses (all compacted the range, or all are damaged
            // there) an immediate retry would spin at network speed (found by walrus-sim, seed 6: a livelock).
            var soon = now + RepairRefusedBackoff;
            if (soon < _nextRepairRequest)
            {
                _nextRepairRequest = soon;
            }

            return;
        }

        var range = Storage.Log.DamagedRanges.FirstOrDefault(r => r.FirstIndex == m.Index + 1);
        if (range is null || (ulong)m.Entries.Count != range.Count)
        {
            return; // an answer to an older request, or a partial one
        }

        var log = Storage.Log;
        for (var i = 0; i < m.Entries.Count; i++)
        {
            var entry = m.Entries[i];
            var index = range.FirstIndex + (ulong)i;
            if (entry.Index != index || entry.Term != log.TermAt(index))
            {
                RepairResponsesRejected++;
                LogRepairEntryRejected(_logger, m.From, entry.Index, entry.Term, index, log.TermAt(index));
                _nextRepairRequest = now;
                CheckDamage(now);
                return;
            }
        }

        try
        {
            log.RepairDamaged(range, m.Entries);
            LogRepaired(_logger, range.FirstIndex, range.LastIndex, m.From);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or LogCorruptionException or IOException)
        {
            LogRepairFailed(_logger, range.FirstIndex, range.LastIndex, e.Message);
            _nextRepairRequest = now;
        }

        CheckDamage(now);
        ProcessReady();
    }

    private void AnswerRepairRequest(RaftMessage m)
    {
        var log = Storage.Log;
        IReadOnlyList<LogEntry>? served = null;
        if (m.Index >= log.FirstIndex && m.Commit >= m.Index && m.Commit <= log.LastIndex && m.Commit - m.Index < int.MaxValue)
        {
            var entries = new List<LogEntry>();
            try
            {
                var count = (int)(m.Commit - m.Index + 1);
                while (entries.Count < count)
                {
                    var next = m.Index + (ulong)entries.Count;
                    if (log.ReadRange(next, count - entries.Count, long.MaxValue, entries) == 0)
                    {
                        break;
                    }
                }

                if (entries.Count == count)
                {
                    served = entries;
                }
            }
            catch (Exception e) when (e is DamagedEntryException or LogCorruptionException or LogIndexOutOfRangeException)
            {
                // Damaged or compacted here too: refuse, the requester asks another peer.
            }
        }

        if (served is null && m.Index < log.FirstIndex && Raft.Role == RaftRole.Leader && !_snapshotSenders.ContainsKey(m.From)
            && _raftLog!.GetSnapshot() is { IsEmpty: false } checkpoint && checkpoint.Metadata.Index >= m.Commit
            && !(_repairSnapshotsPushed.TryGetValue(m.From, out var pushed) && pushed == checkpoint.Metadata.Index))
        {
            // Compacted here: the range is committed and covered by this leader's checkpoint, which replaces it there.
            // Once per checkpoint and peer (the peer may refuse one that ends inside its damaged segment).
            _repairSnapshotsPushed[m.From] = checkpoint.Metadata.Index;
            LogRepairBySnapshot(_logger, m.From, m.Index, m.Commit, checkpoint.Metadata.Index);
            StartSnapshotTransfer(new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = Id, To = m.From, Term = Raft.Status.Term, Snapshot = checkpoint });
        }

        _transport.SendRaft(new RaftMessage
        {
            Type = RaftMessageType.RepairResponse,
            From = Id,
            To = m.From,
            Term = Raft.Status.Term,
            Index = m.Index - 1, // like Append: the index before the first entry (the wire checks entries follow it)
            Commit = Raft.Status.Commit,
            Entries = served ?? [],
            Reject = served is null,
        });
    }

    [LoggerMessage(EventId = 60, Level = LogLevel.Error, Message = "damaged log range {First}..{Last} in {Path} ({Reason}): repairing it from peers")]
    private static partial void LogDamaged(ILogger logger, ulong first, ulong last, string path, string reason);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "abstaining from elections and applying only below index {First} until the damaged log is repaired")]
    private static partial void LogAbstaining(ILogger logger, ulong first);

    [LoggerMessage(EventId = 62, Level = LogLevel.Information, Message = "repaired log range {First}..{Last} from node {Peer}")]
    private static partial void LogRepaired(ILogger logger, ulong first, ulong last, ulong peer);

    [LoggerMessage(EventId = 63, Level = LogLevel.Information, Message = "log repaired ({Entries} entries rewritten since start): taking part in elections again")]
    private static partial void LogRepairDone(ILogger logger, long entries);

    [LoggerMessage(EventId = 64, Level = LogLevel.Warning, Message = "node {Peer} cannot serve damaged range from {First}; asking another peer")]
    private static partial void LogRepairRefused(ILogger logger, ulong peer, ulong first);

    [LoggerMessage(EventId = 65, Level = LogLevel.Warning, Message = "refused repair entries from node {Peer}: it sent index {Index} term {Term}, expected index {ExpectedIndex} term {ExpectedTerm}")]
    private static partial void LogRepairEntryRejected(ILogger logger, ulong peer, ulong index, ulong term, ulong expectedIndex, ulong expectedTerm);

    [LoggerMessage(EventId = 67, Level = LogLevel.Warning, Message = "damaged log range {First}..{Last} is covered by this node's checkpoint at {Checkpoint}: dropped the log prefix (first index {Before} -> {After}) instead of repairing it")]
    private static partial void LogDamageDropped(ILogger logger, ulong first, ulong last, ulong checkpoint, ulong before, ulong after);

    [LoggerMessage(EventId = 68, Level = LogLevel.Warning, Message = "damaged log range {First}..{Last}, compacted by the leader, replaced by its checkpoint at {Checkpoint} (applied {Before} -> {Checkpoint}; log retained from {FirstIndex})")]
    private static partial void LogDamageReplacedBySnapshot(ILogger logger, ulong first, ulong last, ulong checkpoint, ulong before, ulong firstIndex);

    [LoggerMessage(EventId = 69, Level = LogLevel.Information, Message = "node {Peer} asks for damaged range {First}..{Last}, compacted here: sending it the checkpoint at {Checkpoint} instead")]
    private static partial void LogRepairBySnapshot(ILogger logger, ulong peer, ulong first, ulong last, ulong checkpoint);

    [LoggerMessage(EventId = 66, Level = LogLevel.Error, Message = "repair of {First}..{Last} failed: {Error}; will retry")]
    private static partial void LogRepairFailed(ILogger logger, ulong first, ulong last, string error);
}
