using System.Buffers.Binary;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.Checkpoints;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Node.Backup;

/// <summary>A backup file is damaged, truncated or not a backup; nothing was restored from it.</summary>
public sealed class BackupFormatException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong, with the offset when known.</param>
    public BackupFormatException(string message) : base(message) { }

    /// <summary>Creates the exception.</summary>
    public BackupFormatException() { }

    /// <summary>Creates the exception.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="inner">The cause.</param>
    public BackupFormatException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>The head of a backup: the checkpoint it carries and the range of raw entries after it.</summary>
/// <param name="Checkpoint">The state machine at its index, with term and configuration; <see cref="RaftSnapshot.Empty"/> when the cluster had none (the entries then start at 1).</param>
/// <param name="FirstIndex">First entry in the backup.</param>
/// <param name="LastIndex">Last entry in the backup: the committed (applied) index when the backup was taken.</param>
public sealed record BackupHeader(RaftSnapshot Checkpoint, ulong FirstIndex, ulong LastIndex)
{
    /// <summary>Number of entries the backup holds.</summary>
    public ulong EntryCount => LastIndex >= FirstIndex ? LastIndex - FirstIndex + 1 : 0;
}

/// <summary>
/// The backup file of <c>walrusctl snapshot save</c> / <c>snapshot restore</c> (etcd's <c>snapshot save</c> /
/// <c>restore</c>): one agent's committed log as a consistent image, i.e. its checkpoint in force plus every raw
/// committed entry from its first retained index to its applied index, internal entries included, exactly as stored.
/// </summary>
/// <remarks>
/// Layout, little-endian: u32 magic "WBK1", u32 version 1, u64 checkpoint index, u64 checkpoint term, u32 configuration
/// length, configuration (<see cref="ClusterConfig.Encode"/>; empty without a checkpoint), u32 state length, state
/// ("WSM1"), u64 first index, u64 last index; then per entry u64 index, u64 term, u8 type, u32 payload length, payload;
/// then u64 entry count and u32 CRC-32C of every byte before the CRC. A reader verifies the order of indexes as it goes
/// and the CRC at the end; <see cref="Restore"/> removes what it wrote when either fails.
/// </remarks>
public static class BackupFile
{
    private const uint Magic = 0x314B_4257; // "WBK1"
    private const uint Version = 1;

    /// <summary>Writes a backup to a stream.</summary>
    /// <param name="output">Destination, written sequentially.</param>
    /// <param name="header">The head (checkpoint and range).</param>
    /// <param name="entries">Fills batches of entries in index order, from <see cref="BackupHeader.FirstIndex"/> to <see cref="BackupHeader.LastIndex"/>: called with the next index wanted, it adds at least one entry or throws.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    /// <returns>Bytes written.</returns>
    /// <exception cref="BackupFormatException">The source returned entries out of order, none, or past the last index.</exception>
    public static async Task<long> WriteAsync(Stream output, BackupHeader header, Func<ulong, CancellationToken, Task<IReadOnlyList<LogEntry>>> entries, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(header);
        ArgumentNullException.ThrowIfNull(entries);
        var crc = Crc32C.Start;
        long written = 0;
        async Task Put(ReadOnlyMemory<byte> bytes)
        {
            crc = Crc32C.Continue(crc, bytes.Span);
            written += bytes.Length;
            await output.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        var checkpoint = header.Checkpoint;
        var config = checkpoint.IsEmpty ? [] : checkpoint.Metadata.Config.Encode();
        var head = new byte[4 + 4 + 8 + 8 + 4 + config.Length + 4 + checkpoint.Data.Length + 8 + 8];
        var span = head.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], checkpoint.Metadata.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], checkpoint.Metadata.Term);
        BinaryPrimitives.WriteInt32LittleEndian(span[24..], config.Length);
        config.CopyTo(span[28..]);
        var at = 28 + config.Length;
        BinaryPrimitives.WriteInt32LittleEndian(span[at..], checkpoint.Data.Length);
        checkpoint.Data.Span.CopyTo(span[(at + 4)..]);
        at += 4 + checkpoint.Data.Length;
        BinaryPrimitives.WriteUInt64LittleEndian(span[at..], header.FirstIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 8)..], header.LastIndex);
        await Put(head).ConfigureAwait(false);

        var next = header.FirstIndex;
        var entryHead = new byte[21];
        while (next <= header.LastIndex)
        {
            var batch = await entries(next, cancellationToken).ConfigureAwait(false);
            if (batch.Count == 0)
            {
                throw new BackupFormatException($"the source returned no entries at index {next} (backup range {header.FirstIndex}..{header.LastIndex})");
            }

            foreach (var e in batch)
            {
                if (e.Index != next || next > header.LastIndex)
                {
                    throw new BackupFormatException($"the source returned index {e.Index} where {next} was expected (backup range {header.FirstIndex}..{header.LastIndex})");
                }

                BinaryPrimitives.WriteUInt64LittleEndian(entryHead, e.Index);
                BinaryPrimitives.WriteUInt64LittleEndian(entryHead.AsSpan(8), e.Term);
                entryHead[16] = (byte)e.Type;
                BinaryPrimitives.WriteInt32LittleEndian(entryHead.AsSpan(17), e.Payload.Length);
                await Put(entryHead).ConfigureAwait(false);
                await Put(e.Payload).ConfigureAwait(false);
                next++;
            }
        }

        var trailer = new byte[12];
        BinaryPrimitives.WriteUInt64LittleEndian(trailer, header.EntryCount);
        crc = Crc32C.Continue(crc, trailer.AsSpan(0, 8));
        BinaryPrimitives.WriteUInt32LittleEndian(trailer.AsSpan(8), Crc32C.Finish(crc));
        written += trailer.Length;
        await output.WriteAsync(trailer, cancellationToken).ConfigureAwait(false);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return written;
    }

    /// <summary>Reads a whole backup, verifying it, and hands each entry to <paramref name="onEntry"/> as it goes.</summary>
    /// <param name="input">The backup, read sequentially.</param>
    /// <param name="onHeader">Called once with the head, before any entry.</param>
    /// <param name="onEntry">Called with each entry in index order (its payload is valid only during the call).</param>
    /// <returns>The head.</returns>
    /// <exception cref="BackupFormatException">Not a backup, an unknown version, truncated, indexes out of order, or the CRC-32C does not match (entries already handed over must then be discarded).</exception>
    public static BackupHeader Read(Stream input, Action<BackupHeader>? onHeader, Action<LogEntry>? onEntry)
    {
        ArgumentNullException.ThrowIfNull(input);
        var reader = new CrcReader(input);
        if (reader.UInt32() != Magic)
        {
            throw new BackupFormatException("not a WalrusGossip backup (bad magic)");
        }

        var version = reader.UInt32();
        if (version != Version)
        {
            throw new BackupFormatException($"backup version {version} is not supported (this build reads version {Version})");
        }

        var index = reader.UInt64();
        var term = reader.UInt64();
        var config = reader.Bytes(reader.Length(64 * 1024, "configuration"));
        var state = reader.Bytes(reader.Length(int.MaxValue, "state"));
        var first = reader.UInt64();
        var last = reader.UInt64();
        RaftSnapshot checkpoint;
        if (index == 0)
        {
            checkpoint = RaftSnapshot.Empty;
        }
        else if (!ClusterConfig.TryDecode(config, out var decoded) || decoded is null || term == 0)
        {
            throw new BackupFormatException($"the backup's checkpoint at index {index} has an invalid configuration or term");
        }
        else
        {
            checkpoint = new RaftSnapshot(new SnapshotMetadata(index, term, decoded), state);
        }

        if (first == 0 || first > index + 1 || last + 1 < first || (index > 0 && last < index))
        {
            throw new BackupFormatException($"the backup's range {first}..{last} does not fit its checkpoint at index {index}");
        }

        var header = new BackupHeader(checkpoint, first, last);
        onHeader?.Invoke(header);
        for (var expected = first; expected <= last; expected++)
        {
            var entryIndex = reader.UInt64();
            var entryTerm = reader.UInt64();
            var type = reader.Byte();
            var payload = reader.Bytes(reader.Length(int.MaxValue, "payload"));
            if (entryIndex != expected || entryTerm == 0 || !Enum.IsDefined((EntryType)type))
            {
                throw new BackupFormatException($"entry {expected} of the backup is damaged (index {entryIndex}, term {entryTerm}, type {type})");
            }

            onEntry?.Invoke(new LogEntry(entryIndex, entryTerm, (EntryType)type, payload));
        }

        var count = reader.UInt64();
        var computed = reader.Crc;
        var stored = reader.UInt32();
        if (count != header.EntryCount || stored != computed)
        {
            throw new BackupFormatException($"the backup fails its CRC-32C or entry count (count {count}, expected {header.EntryCount})");
        }

        if (input.ReadByte() != -1)
        {
            throw new BackupFormatException("the backup has bytes after its trailer");
        }

        return header;
    }

    /// <summary>
    /// Seeds a data directory for a new cluster from a backup (etcd's <c>snapshot restore</c>): the backup's entries at
    /// their original indexes and terms, a checkpoint at the backup's last index (the backup's state machine with every
    /// entry after its checkpoint applied) whose configuration is <paramref name="voters"/>, and a hard state at that
    /// term with no vote. Each member of the new cluster is restored from the same file with its own directory; started
    /// with those voters they elect a leader and serve the same committed entries from the backup's first index on.
    /// </summary>
    /// <param name="input">The backup.</param>
    /// <param name="dataDirectory">Must not exist or be empty; created.</param>
    /// <param name="voters">The new cluster's voter ids (non-zero, distinct).</param>
    /// <param name="options">Storage options (segment size and so on), as the agent will use them; <see cref="StorageOptions.InlineWrites"/> is set.</param>
    /// <returns>The restored head.</returns>
    /// <exception cref="BackupFormatException">The backup is damaged; the directory is removed again.</exception>
    /// <exception cref="DataDirectoryException">The directory exists and is not empty.</exception>
    /// <exception cref="ArgumentException">No voters, or an invalid voter list.</exception>
    public static BackupHeader Restore(Stream input, string dataDirectory, IReadOnlyList<ulong> voters, StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(options);
        var config = ClusterConfig.Create(voters ?? throw new ArgumentNullException(nameof(voters)));
        if (config.Voters.Count == 0)
        {
            throw new ArgumentException("at least one voter is required", nameof(voters));
        }

        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new DataDirectoryException($"{dataDirectory} is not empty: a restore seeds a new member and never overwrites one");
        }

        var created = !Directory.Exists(dataDirectory);
        try
        {
            options.InlineWrites = true; // the restore writes from this thread
            using var storage = NodeStorage.Open(dataDirectory, options);
            var stateMachine = new LogStateMachine();
            var batch = new List<LogEntry>();
            long batchBytes = 0;
            void Flush()
            {
                if (batch.Count > 0)
                {
                    storage.Log.AppendBatchAsync(batch).AsTask().GetAwaiter().GetResult();
                    batch.Clear();
                    batchBytes = 0;
                }
            }

            BackupHeader? head = null;
            var header = Read(input, h =>
            {
                head = h;
                if (!h.Checkpoint.IsEmpty)
                {
                    stateMachine.Restore(h.Checkpoint.Data, h.Checkpoint.Metadata.Config);
                }

                if (h.FirstIndex > 1)
                {
                    storage.Log.TruncatePrefix(h.FirstIndex);
                }
            }, e =>
            {
                var copy = new LogEntry(e.Index, e.Term, e.Type, e.Payload.ToArray());
                if (copy.Index > head!.Checkpoint.Metadata.Index)
                {
                    stateMachine.Apply(copy);
                }

                batch.Add(copy);
                batchBytes += copy.Payload.Length;
                if (batchBytes >= 4 << 20 || batch.Count >= 8192)
                {
                    Flush();
                }
            });
            Flush();
            if (header.EntryCount == 0)
            {
                throw new BackupFormatException("the backup holds no entries");
            }

            var lastTerm = storage.Log.TermAt(header.LastIndex);
            storage.Checkpoints.Save(new Checkpoint(header.LastIndex, lastTerm, config.Encode(), stateMachine.EncodeSnapshot()));
            storage.HardState.Save(new HardState(lastTerm, 0, header.LastIndex));
            return header;
        }
        catch (Exception e) when (e is BackupFormatException or StateMachineSnapshotException or IOException)
        {
            TryRemove(dataDirectory, created);
            if (e is StateMachineSnapshotException)
            {
                throw new BackupFormatException("the backup's checkpoint state does not decode: " + e.Message, e);
            }

            throw;
        }
    }

    private static void TryRemove(string dataDirectory, bool created)
    {
        try
        {
            if (created)
            {
                Directory.Delete(dataDirectory, recursive: true);
            }
            else
            {
                foreach (var entry in Directory.EnumerateFileSystemEntries(dataDirectory))
                {
                    if (Directory.Exists(entry))
                    {
                        Directory.Delete(entry, recursive: true);
                    }
                    else
                    {
                        File.Delete(entry);
                    }
                }
            }
        }
        catch (IOException)
        {
            // best effort: the caller reports the original failure
        }
    }

    /// <summary>Reads little-endian fields from a stream while keeping the CRC-32C of what it read.</summary>
    private sealed class CrcReader(Stream input)
    {
        private readonly byte[] _scratch = new byte[8];
        private uint _crc = Crc32C.Start;
        private long _offset;

        public uint Crc => Crc32C.Finish(_crc);

        public byte Byte() => Fill(1)[0];

        public uint UInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Fill(4));

        public ulong UInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Fill(8));

        public int Length(int max, string what)
        {
            var at = _offset;
            var length = BinaryPrimitives.ReadInt32LittleEndian(Fill(4));
            if (length < 0 || length > max)
            {
                throw new BackupFormatException($"the backup's {what} length {length} at offset {at} is impossible");
            }

            return length;
        }

        public byte[] Bytes(int length)
        {
            var bytes = new byte[length];
            ReadExactly(bytes);
            return bytes;
        }

        private ReadOnlySpan<byte> Fill(int count)
        {
            ReadExactly(_scratch.AsSpan(0, count));
            return _scratch.AsSpan(0, count);
        }

        private void ReadExactly(Span<byte> into)
        {
            var at = _offset;
            try
            {
                input.ReadExactly(into);
            }
            catch (EndOfStreamException e)
            {
                throw new BackupFormatException($"the backup is truncated at offset {at}", e);
            }

            _crc = Crc32C.Continue(_crc, into);
            _offset += into.Length;
        }
    }
}
