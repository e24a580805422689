using Microsoft.Extensions.Logging;

namespace WalrusGossip.Node;

/// <summary>
/// Retention by age between checkpoints: segments age even when no new checkpoint is taken (a quiet cluster), so with
/// <see cref="Storage.RetentionPolicy.MaxAge"/> set the node applies its retention policy about once every
/// <see cref="AgeRetentionInterval"/> against the latest adopted checkpoint, on the loop, from the once-a-second
/// housekeeping of <see cref="Tick"/>. As at a checkpoint, only whole segments before both the retention point and the
/// checkpoint go; nothing happens before the first checkpoint or while one is being written.
/// </summary>
public sealed partial class WalrusNode
{
    /// <summary>How often retention by age runs without a checkpoint: about once a minute (node clock).</summary>
    public static readonly TimeSpan AgeRetentionInterval = TimeSpan.FromMinutes(1);

    private TimeSpan _nextAgeRetention;

    /// <summary>Age checks between checkpoints (see <see cref="AgeRetentionInterval"/>) that deleted segments, since start.</summary>
    public long AgeRetentionPasses { get; private set; }

    /// <summary>Runs retention against the latest checkpoint when an age limit is set and the interval has passed.</summary>
    private void RetainByAgeIfDue(TimeSpan now)
    {
        if (_options.Storage.Retention.MaxAge == TimeSpan.Zero || now < _nextAgeRetention)
        {
            return;
        }

        _nextAgeRetention = now + AgeRetentionInterval;
        if (_raftLog is null || IsCheckpointing || CheckpointIndex == 0)
        {
            return;
        }

        var before = Storage.Log.FirstIndex;
        _raftLog.Retain(RetainFrom(CheckpointIndex));
        if (Storage.Log.FirstIndex != before)
        {
            AgeRetentionPasses++;
            PublishCommitted(); // readers see the new first index at once
            LogRetainedByAge(_logger, before, Storage.Log.FirstIndex, CheckpointIndex);
        }
    }

    [LoggerMessage(EventId = 44, Level = LogLevel.Information, Message = "retention by age: log retained from {FirstIndex} (was {Before}; checkpoint at {CheckpointIndex})")]
    private static partial void LogRetainedByAge(ILogger logger, ulong before, ulong firstIndex, ulong checkpointIndex);

    [LoggerMessage(EventId = 45, Level = LogLevel.Warning, Message = "retention skipped: cannot read segment file times")]
    private static partial void LogRetentionTimesUnreadable(ILogger logger, Exception error);
}
