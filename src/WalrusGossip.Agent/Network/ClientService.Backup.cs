using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;

namespace WalrusGossip.Agent.Network;

/// <summary>Backups (<c>walrusctl snapshot save</c>): the pinned head, then raw committed entries in pieces.</summary>
public sealed partial class ClientService
{
    /// <summary>Largest backup answer in entry bytes: well under the 16 MiB frame limit, with room for one more entry.</summary>
    private const ulong MaxBackupBytes = 8UL << 20;

    /// <summary>
    /// Answers a backup request. With <c>up_to_index</c> 0 the backup is pinned on the node loop (checkpoint in force,
    /// first retained index, applied index, see <see cref="WalrusNode.GetBackupHead"/>) and the answer carries the
    /// checkpoint and the first entries; later requests read raw entries from <c>from_index</c> up to the pinned index
    /// off the loop, from the committed view. COMPACTED when retention deleted <c>from_index</c> meanwhile;
    /// INVALID_ARGUMENT for a range past what this agent has applied.
    /// </summary>
    private async Task BackupAsync(IFrameConnection connection, BackupRequest request)
    {
        var response = new BackupResponse { RequestId = request.RequestId };
        ulong from = request.FromIndex, upTo = request.UpToIndex;
        if (request.UpToIndex == 0)
        {
            var (ran, head) = await TryInvokeAsync(n => n.GetBackupHead()).ConfigureAwait(false);
            if (!ran)
            {
                response.Status = ResponseStatus.Unavailable;
                response.Message = NodeDownMessage;
                Reply(connection, MessageType.BackupResponse, response);
                return;
            }

            if (!head.Checkpoint.IsEmpty)
            {
                response.Snapshot = RaftMessageMapper.ToProto(head.Checkpoint);
            }

            response.FirstIndex = head.FirstIndex;
            response.UpToIndex = head.UpToIndex;
            from = head.FirstIndex;
            upTo = head.UpToIndex;
        }
        else
        {
            response.UpToIndex = upTo;
        }

        if (_currentLoop() is not { } loop)
        {
            response.Status = ResponseStatus.Unavailable;
            response.Message = NodeDownMessage;
            Reply(connection, MessageType.BackupResponse, response);
            return;
        }

        var view = loop.Committed;
        response.FirstIndex = response.FirstIndex == 0 ? view.FirstIndex : response.FirstIndex;
        if (upTo > view.AppliedIndex || from == 0)
        {
            response.Status = ResponseStatus.InvalidArgument;
            response.Message = $"range {from}..{upTo} is not within this agent's applied log (applied {view.AppliedIndex}); start the backup again at one agent";
            Reply(connection, MessageType.BackupResponse, response);
            return;
        }

        if (from < view.FirstIndex)
        {
            response.Status = ResponseStatus.Compacted;
            response.Message = $"index {from} is compacted (the log starts at {view.FirstIndex}); start the backup again";
            Reply(connection, MessageType.BackupResponse, response);
            return;
        }

        var maxBytes = (long)Math.Min(request.MaxBytes == 0 ? 4UL << 20 : request.MaxBytes, MaxBackupBytes);
        var entries = new List<LogEntry>();
        try
        {
            view.ReadRaw(from, upTo, maxBytes, entries);
        }
        catch (WalrusGossip.Storage.LogIndexOutOfRangeException e) when (e.IsCompacted)
        {
            response.Status = ResponseStatus.Compacted;
            response.Message = $"index {e.Index} is compacted (the log starts at {e.FirstIndex}); start the backup again";
            Reply(connection, MessageType.BackupResponse, response);
            return;
        }
        catch (Exception e) when (e is WalrusGossip.Storage.DamagedEntryException or WalrusGossip.Storage.LogCorruptionException)
        {
            response.Status = ResponseStatus.Unavailable;
            response.Message = DamagedMessage(e);
            Reply(connection, MessageType.BackupResponse, response);
            return;
        }

        response.Status = ResponseStatus.Ok;
        foreach (var e in entries)
        {
            response.Entries.Add(RaftMessageMapper.ToProto(e));
        }

        Reply(connection, MessageType.BackupResponse, response);
    }
}
