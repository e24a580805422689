using Microsoft.Extensions.Logging;

namespace WalrusGossip.Node;

/// <summary>
/// The disk reserve (<see cref="Storage.StorageOptions.ReserveBytes"/>): about once a second the node asks its device
/// how much space is free. Below the reserve it stops taking new entries, as leader (appends answered
/// <see cref="RequestStatus.NoSpace"/>) and as follower (AppendEntries with entries and snapshots are dropped as if
/// lost, so the leader resends them later), while it keeps voting, heartbeating and serving reads of what it has. It
/// resumes by itself when space returns. Nothing acknowledged is lost: a refused entry was never acknowledged by this node.
/// </summary>
public sealed partial class WalrusNode
{
    /// <summary>True while the data directory's free space is below the reserve (as of the last check, at most about a second old).</summary>
    public bool IsLowOnSpace { get; private set; }

    /// <summary>Free bytes on the data directory's file system at the last check (<see cref="long.MaxValue"/> when unknown).</summary>
    public long FreeBytes { get; private set; } = long.MaxValue;

    /// <summary>Replication messages dropped because the disk was below the reserve, since start.</summary>
    public long RefusedForSpace { get; private set; }

    private void RefreshFreeSpace()
    {
        var reserve = _options.Storage.ReserveBytes;
        FreeBytes = _device.AvailableBytes(_options.DataDirectory);
        var low = reserve > 0 && FreeBytes < reserve;
        if (low != IsLowOnSpace)
        {
            IsLowOnSpace = low;
            if (low)
            {
                LogLowOnSpace(_logger, FreeBytes, reserve);
            }
            else
            {
                LogSpaceBack(_logger, FreeBytes, reserve);
            }
        }
    }

    [LoggerMessage(EventId = 42, Level = LogLevel.Error, Message = "data directory has {Free} bytes free, below the reserve of {Reserve}: new entries are refused until space is freed")]
    private static partial void LogLowOnSpace(ILogger logger, long free, long reserve);

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "data directory has {Free} bytes free again (reserve {Reserve}): taking new entries")]
    private static partial void LogSpaceBack(ILogger logger, long free, long reserve);
}
