using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using WalrusGossip.Client;
using WalrusGossip.Node.Backup;
using WalrusGossip.Protocol;
using WalrusGossip.Raft;
using WalrusGossip.Storage;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// <c>walrusctl snapshot save|status|restore</c>: a consistent backup of a running cluster to one file, its check, and
/// seeding a new member's data directory from it (etcd's <c>snapshot save</c>, <c>status</c> and <c>restore</c>).
/// </summary>
internal static class SnapshotCommands
{
    /// <summary>Times a backup is started again when retention deletes its next entry under it.</summary>
    private const int Attempts = 3;

    public static Command Create(CliConsole console, ConnectionOptions connection)
    {
        var snapshot = new Command("snapshot", "Back up a running cluster to a file and seed a new cluster from it");
        snapshot.Subcommands.Add(CreateSave(console, connection));
        snapshot.Subcommands.Add(CreateStatus(console));
        snapshot.Subcommands.Add(CreateRestore(console));
        return snapshot;
    }

    private static Command CreateSave(CliConsole console, ConnectionOptions connection)
    {
        var file = new Argument<string>("file") { Description = "Backup file to write (written to FILE.tmp, then renamed)" };
        var endpoint = new Option<string?>("--from") { Description = "Client endpoint (host:port) of the agent to copy; default: the leader" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object: file, endpoint, checkpointIndex, firstIndex, lastIndex, entries, bytes" };
        var command = new Command("save", "Write a consistent backup (the checkpoint in force and every committed entry the agent retains, up to its applied index) to FILE. Exit 1 when the cluster cannot serve it") { file, endpoint, json };
        command.SetAction((parse, ct) => ClusterCommand.RunAsync(
            console,
            () => connection.Resolve(parse),
            async (client, token) =>
            {
                var path = Path.GetFullPath(parse.GetValue(file)!);
                var from = parse.GetValue(endpoint) ?? await LeaderEndpointAsync(client, token).ConfigureAwait(false);
                for (var attempt = 1; ; attempt++)
                {
                    try
                    {
                        var (header, bytes) = await SaveAsync(client, from, path, token).ConfigureAwait(false);
                        var inv = CultureInfo.InvariantCulture;
                        await console.Out.WriteLineAsync(parse.GetValue(json)
                            ? JsonSerializer.Serialize(new { file = path, endpoint = from, checkpointIndex = header.Checkpoint.Metadata.Index, firstIndex = header.FirstIndex, lastIndex = header.LastIndex, entries = header.EntryCount, bytes })
                            : string.Create(inv, $"saved entries {header.FirstIndex}..{header.LastIndex} ({header.EntryCount} entries, checkpoint at {header.Checkpoint.Metadata.Index}) from {from} to {path}: {bytes} bytes")).ConfigureAwait(false);
                        return CliRunner.Ok;
                    }
                    catch (WalrusCompactedException e) when (attempt < Attempts)
                    {
                        await console.Error.WriteLineAsync($"walrusctl: {e.Message}; starting the backup again").ConfigureAwait(false);
                    }
                }
            },
            ct));
        return command;
    }

    private static async Task<(BackupHeader Header, long Bytes)> SaveAsync(WalrusClient client, string endpoint, string path, CancellationToken token)
    {
        var first = await client.ReadBackupAsync(endpoint, 0, 0, 0, token).ConfigureAwait(false);
        var header = new BackupHeader(Checkpoint(first), first.FirstIndex, first.UpToIndex);
        IReadOnlyList<Raft.LogEntry> pending = Entries(first);
        var temp = path + ".tmp";
        long bytes;
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous))
        {
            bytes = await BackupFile.WriteAsync(stream, header, async (next, ct) =>
            {
                if (pending.Count > 0)
                {
                    var batch = pending;
                    pending = [];
                    return batch;
                }

                return Entries(await client.ReadBackupAsync(endpoint, next, header.LastIndex, 0, ct).ConfigureAwait(false));
            }, token).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, path, overwrite: true);
        return (header, bytes);
    }

    /// <summary>The piece's checkpoint as Raft's type (the SDK hands out the wire form); empty when it has none.</summary>
    /// <exception cref="WalrusUnavailableException">The checkpoint is malformed.</exception>
    private static RaftSnapshot Checkpoint(BackupPiece piece)
    {
        try
        {
            return piece.Checkpoint is null ? RaftSnapshot.Empty : RaftMessageMapper.FromProto(piece.Checkpoint);
        }
        catch (ProtocolException e)
        {
            throw new WalrusUnavailableException($"{piece.Endpoint}: malformed backup answer: {e.Message}", e);
        }
    }

    /// <summary>The piece's entries as Raft's type (payloads shared, not copied).</summary>
    /// <exception cref="WalrusUnavailableException">An entry is malformed.</exception>
    private static Raft.LogEntry[] Entries(BackupPiece piece)
    {
        try
        {
            var entries = new Raft.LogEntry[piece.Entries.Count];
            for (var i = 0; i < entries.Length; i++)
            {
                entries[i] = RaftMessageMapper.FromProto(piece.Entries[i]);
            }

            return entries;
        }
        catch (ProtocolException e)
        {
            throw new WalrusUnavailableException($"{piece.Endpoint}: malformed backup answer: {e.Message}", e);
        }
    }

    private static async Task<string> LeaderEndpointAsync(WalrusClient client, CancellationToken token)
    {
        var nodes = await client.GetClusterStatusAsync(token).ConfigureAwait(false);
        var answering = nodes.Where(n => n.Status is not null).ToList();
        var leader = answering.FirstOrDefault(n => n.Status!.Role == NodeRole.Leader);
        return (leader ?? answering.FirstOrDefault())?.Endpoint
            ?? throw new WalrusUnavailableException("no agent answered: " + string.Join("; ", nodes.Select(n => $"{n.Endpoint}: {n.Error}")));
    }

    private static Command CreateStatus(CliConsole console)
    {
        var file = new Argument<string>("file") { Description = "Backup file" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("status", "Verify a backup file (every entry in order, the CRC-32C) and show its range. Exit 0 intact, 1 damaged, 2 unreadable") { file, json };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            try
            {
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                long payload = 0;
                var header = BackupFile.Read(stream, null, e => payload += e.Payload.Length);
                var inv = CultureInfo.InvariantCulture;
                await console.Out.WriteLineAsync(parse.GetValue(json)
                    ? JsonSerializer.Serialize(new { file = path, intact = true, checkpointIndex = header.Checkpoint.Metadata.Index, checkpointTerm = header.Checkpoint.Metadata.Term, firstIndex = header.FirstIndex, lastIndex = header.LastIndex, entries = header.EntryCount, payloadBytes = payload })
                    : string.Create(inv, $"{path}: intact; entries {header.FirstIndex}..{header.LastIndex} ({header.EntryCount}, {payload} payload bytes), checkpoint at {header.Checkpoint.Metadata.Index} (term {header.Checkpoint.Metadata.Term})")).ConfigureAwait(false);
                return CliRunner.Ok;
            }
            catch (BackupFormatException e)
            {
                await console.Error.WriteLineAsync($"walrusctl: {path}: {e.Message}").ConfigureAwait(false);
                return CliRunner.Unhealthy;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                await console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
                return CliRunner.UsageOrIoError;
            }
        });
        return command;
    }

    private static Command CreateRestore(CliConsole console)
    {
        var file = new Argument<string>("file") { Description = "Backup file written by 'snapshot save'" };
        var dataDir = new Option<string>("--data-dir") { Description = "The new member's data directory (absent or empty); the agent's Node:DataDir", Required = true };
        var voters = new Option<string>("--voters") { Description = "The new cluster's voter ids, comma-separated (e.g. 1,2,3); restore each member with the same list", Required = true };
        var segmentBytes = new Option<long>("--segment-bytes") { Description = "Segment size, as the agent's Storage:MaxSegmentBytes", DefaultValueFactory = _ => new StorageOptions().MaxSegmentBytes };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("restore", "Seed a new cluster member's data directory from a backup: the same entries at the same indexes, a checkpoint at the last one with the new voters. Run it for every member, then start the agents with those voters. Exit 0 restored, 1 damaged backup, 2 usage or I/O error") { file, dataDir, voters, segmentBytes, json };
        command.SetAction(async (parse, ct) =>
        {
            var path = parse.GetValue(file)!;
            try
            {
                var ids = parse.GetValue(voters)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                    .Select(v => ulong.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id > 0 ? id : throw new ArgumentException($"--voters: '{v}' is not a node id (a positive integer)"))
                    .ToList();
                await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
                var dir = parse.GetValue(dataDir)!;
                var segment = parse.GetValue(segmentBytes);
                var storage = new StorageOptions { MaxSegmentBytes = segment, MaxEntryBytes = (int)Math.Min(StorageOptions.DefaultMaxEntryBytes, segment - Storage.Records.RecordHeader.Size) };
                var header = BackupFile.Restore(stream, dir, ids, storage);
                var inv = CultureInfo.InvariantCulture;
                await console.Out.WriteLineAsync(parse.GetValue(json)
                    ? JsonSerializer.Serialize(new { dataDir = dir, firstIndex = header.FirstIndex, lastIndex = header.LastIndex, entries = header.EntryCount, voters = ids })
                    : string.Create(inv, $"restored entries {header.FirstIndex}..{header.LastIndex} ({header.EntryCount}) into {dir} for voters {string.Join(",", ids)}; start the agent on it with those voters")).ConfigureAwait(false);
                return CliRunner.Ok;
            }
            catch (BackupFormatException e)
            {
                await console.Error.WriteLineAsync($"walrusctl: {path}: {e.Message}").ConfigureAwait(false);
                return CliRunner.Unhealthy;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or StorageException)
            {
                await console.Error.WriteLineAsync($"walrusctl: {e.Message}").ConfigureAwait(false);
                return CliRunner.UsageOrIoError;
            }
        });
        return command;
    }
}
