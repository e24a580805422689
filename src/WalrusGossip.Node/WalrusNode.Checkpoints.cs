using System.Diagnostics;
using Microsoft.Extensions.Logging;
using WalrusGossip.Raft;
using WalrusGossip.Storage.Checkpoints;

namespace WalrusGossip.Node;

/// <summary>
/// Checkpoints (Raft §7, log compaction): every <see cref="NodeOptions.CheckpointEveryEntries"/> entries or
/// <see cref="NodeOptions.CheckpointEveryBytes"/> payload bytes applied, the node encodes its state machine at the
/// applied index (in memory, on the loop: sessions and duplicate window are small), writes it off the loop through
/// <see cref="Storage.StorageOptions.RunInBackground"/> (tmp + fsync + rename + directory fsync, CRC'd, see
/// <see cref="CheckpointStore"/>), and only when the file is durable adopts it as the Raft snapshot and lets retention
/// delete the segments wholly before it. Appends, replication and reads go on while the file is written.
/// </summary>
public sealed partial class WalrusNode
{
    private Task? _checkpointWrite;
    private Checkpoint? _checkpointWriting;
    private ClusterConfig _checkpointConfig = ClusterConfig.Empty;
    private long _checkpointStarted;
    private ulong _checkpointAttemptedAt; // applied index of the last attempt, so a failing disk is not retried every Ready
    private ulong _appliedBytesSinceCheckpoint;

    /// <summary>Index of the newest checkpoint in force (0 before the first); the state machine can be rebuilt from it and the log after it.</summary>
    public ulong CheckpointIndex => _raftLog?.Snapshot.Index ?? 0;

    /// <summary>Checkpoints this node wrote and adopted since it started (installed snapshots not counted).</summary>
    public long CheckpointsTaken { get; private set; }

    /// <summary>Snapshots received from a leader and installed (InstallSnapshot, §7) since start: each replaced the log before it.</summary>
    public long SnapshotsInstalled { get; private set; }

    /// <summary>Checkpoint writes that failed since start (the previous checkpoint stays in force; the next one is tried after another interval).</summary>
    public long CheckpointFailures { get; private set; }

    /// <summary>True while a checkpoint file is being written in the background.</summary>
    public bool IsCheckpointing => _checkpointWrite is not null;

    /// <summary>
    /// Starts a checkpoint now (operator request, <c>walrusctl compact --now</c>); retention runs once it is durable.
    /// </summary>
    /// <returns>False when one is already being written or nothing was applied since the last one.</returns>
    public bool CheckpointNow()
    {
        if (!CanStartCheckpoint())
        {
            return false;
        }

        BeginCheckpoint();
        return true;
    }

    /// <summary>The log's retention state for operators: first and last index, checkpoint, bytes held, policy.</summary>
    /// <returns>A copy taken on the loop.</returns>
    public LogRetentionInfo GetRetentionInfo()
    {
        var log = Storage.Log;
        return new LogRetentionInfo(log.FirstIndex, log.LastIndex, CheckpointIndex, _applied, log.DataBytes, _options.Storage.Retention, IsCheckpointing);
    }

    /// <summary>Adopts a finished checkpoint write, then starts the next checkpoint if one is due. Runs on the loop after each Ready and tick.</summary>
    private void CheckpointIfDue()
    {
        if (!CanStartCheckpoint())
        {
            return;
        }

        var since = _applied - Math.Max(_raftLog!.Snapshot.Index, _checkpointAttemptedAt);
        if (since >= _options.CheckpointEveryEntries || _appliedBytesSinceCheckpoint >= _options.CheckpointEveryBytes ||
            (IsLowOnSpace && !_options.Storage.Retention.IsKeepAll && _applied > _checkpointAttemptedAt)) // low on space: let retention run now
        {
            BeginCheckpoint();
        }
    }

    /// <summary>Adopts a finished background write, then says whether a new checkpoint may start: none in flight, something applied since the last, a configuration to record.</summary>
    private bool CanStartCheckpoint()
    {
        if (_checkpointWrite is { IsCompleted: true })
        {
            FinishCheckpoint();
        }

        return _checkpointWrite is null && _raftLog is not null && _applied > _raftLog.Snapshot.Index && _stateMachine.Configuration.Voters.Count > 0;
    }

    private void BeginCheckpoint()
    {
        _checkpointConfig = _stateMachine.Configuration;
        var checkpoint = new Checkpoint(_stateMachine.AppliedIndex, _stateMachine.AppliedTerm, _checkpointConfig.Encode(), _stateMachine.EncodeSnapshot());
        _checkpointAttemptedAt = checkpoint.Index;
        _appliedBytesSinceCheckpoint = 0;
        _checkpointWriting = checkpoint;
        _checkpointStarted = Stopwatch.GetTimestamp();
        var store = Storage.Checkpoints;
        try
        {
            _checkpointWrite = _options.Storage.RunInBackground(() => store.Save(checkpoint));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _checkpointWrite = Task.FromException(e); // the simulator runs the write inline: its faults surface here
        }

        if (_checkpointWrite.IsCompleted)
        {
            FinishCheckpoint();
        }
    }

    private void FinishCheckpoint()
    {
        var write = _checkpointWrite!;
        var checkpoint = _checkpointWriting!;
        _checkpointWrite = null;
        _checkpointWriting = null;
        if (!write.IsCompletedSuccessfully)
        {
            CheckpointFailures++;
            LogCheckpointFailed(_logger, checkpoint.Index, write.Exception?.GetBaseException());
            return;
        }

        if (_raftLog!.AdoptCheckpoint(checkpoint, _checkpointConfig, RetainFrom(checkpoint.Index)))
        {
            PublishCommitted(); // readers see the new first index at once
            CheckpointsTaken++;
            LogCheckpointTaken(_logger, checkpoint.Index, checkpoint.State.Length, Stopwatch.GetElapsedTime(_checkpointStarted).TotalMilliseconds, Storage.Log.FirstIndex);
        }
    }

    /// <summary>First log index to keep once a checkpoint at <paramref name="checkpointIndex"/> is durable: whole segments before both the retention point and the checkpoint go.</summary>
    /// <remarks>When segment file times cannot be read (retention by age), nothing is deleted this time.</remarks>
    private ulong RetainFrom(ulong checkpointIndex)
    {
        try
        {
            return _raftLog!.BugTruncatePastCheckpoint
                ? Storage.Log.RetainFrom(new Storage.RetentionPolicy { MaxEntries = 1 }, ulong.MaxValue) // injected bug: keep only the newest segment
                : Storage.Log.RetainFrom(_options.Storage.Retention, checkpointIndex + 1);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            LogRetentionTimesUnreadable(_logger, e);
            return Storage.Log.FirstIndex;
        }
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "checkpoint at index {Index} ({Bytes} bytes of state) written in {Milliseconds:F1} ms; log retained from {FirstIndex}")]
    private static partial void LogCheckpointTaken(ILogger logger, ulong index, int bytes, double milliseconds, ulong firstIndex);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "checkpoint at index {Index} could not be written; the previous one stays in force")]
    private static partial void LogCheckpointFailed(ILogger logger, ulong index, Exception? error);

    /// <summary>
    /// Pins a backup (<c>walrusctl snapshot save</c>): the checkpoint in force (the state machine at its index, with its
    /// configuration; empty before the first checkpoint, when the log still starts at 1), the first retained index and
    /// the applied index. The checkpoint plus the committed entries from the first retained index to the applied
    /// index, read with <see cref="CommittedLog.ReadRaw"/>, are a consistent image of the replicated log: retention never
    /// deletes past a checkpoint, so the first retained index is at most the checkpoint's index + 1.
    /// </summary>
    /// <returns>The pinned head.</returns>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public BackupHead GetBackupHead()
    {
        var committed = Committed;
        return new BackupHead(_raftLog!.GetSnapshot(), committed.FirstIndex, committed.AppliedIndex);
    }
}
