using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Extensions.Logging.Abstractions;

namespace WalrusGossip.Storage.Checkpoints;

/// <summary>
/// The <c>checkpoints/</c> directory: files <c>ckpt-&lt;index, 20 digits&gt;.bin</c>, each written
/// tmp + fsync + rename + directory fsync; the newest two are kept.
/// </summary>
/// <remarks>
/// File layout, little-endian: u32 magic "CKP1", u32 CRC-32C of everything after it, u64 index, u64 term,
/// u32 configuration length, u64 state length, configuration bytes, state bytes.
/// </remarks>
public sealed partial class CheckpointStore
{
    /// <summary>How many checkpoint files are kept after a save.</summary>
    public const int Retained = 2;

    private const uint Magic = 0x3150_4B43; // "CKP1"
    private const int HeaderSize = 36;
    private const string Prefix = "ckpt-";
    private const string Suffix = ".bin";
    private readonly IStorageDevice _device;
    private readonly string _directory;
    private readonly ILogger _logger;
    private readonly Lock _saveGate = new();

    /// <summary>Binds to a checkpoint directory, creating it if missing and deleting leftover temporary files.</summary>
    /// <param name="device">The device holding the directory.</param>
    /// <param name="directory">The checkpoint directory path.</param>
    /// <param name="logger">Receives notes on skipped damaged checkpoints.</param>
    public CheckpointStore(IStorageDevice device, string directory, ILogger? logger = null)
    {
        _device = device;
        _directory = directory;
        _logger = logger ?? NullLogger.Instance;
        device.CreateDirectory(directory);
        foreach (var name in device.ListFiles(directory))
        {
            if (name.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal))
            {
                device.DeleteFile(Path.Combine(directory, name));
            }
        }
    }

    /// <summary>True when <paramref name="fileName"/> is a name this store writes (checkpoint or its temporary file).</summary>
    /// <param name="fileName">A file name without directory.</param>
    /// <returns>Whether the name belongs to the checkpoint store.</returns>
    public static bool IsCheckpointFileName(string fileName)
    {
        ArgumentNullException.ThrowIfNull(fileName);
        var name = fileName.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal) ? fileName[..^AtomicFile.TempSuffix.Length] : fileName;
        return TryParseIndex(name, out _);
    }

    /// <summary>Durably writes a checkpoint, then deletes all but the newest <see cref="Retained"/>. Thread-safe.</summary>
    /// <param name="checkpoint">The checkpoint; its configuration must be under 2 GiB.</param>
    /// <exception cref="IOException">The write failed; the previous checkpoints remain in force.</exception>
    public void Save(Checkpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        var bytes = Encode(checkpoint);
        lock (_saveGate) // a background checkpoint and an installed snapshot may be saved at once
        {
            AtomicFile.Replace(_device, PathFor(checkpoint.Index), bytes);
            var indexes = ListIndexes();
            for (var i = 0; i < indexes.Count - Retained; i++)
            {
                _device.DeleteFile(PathFor(indexes[i]));
            }
        }
    }

    /// <summary>Loads the newest checkpoint whose CRC and structure are valid, skipping (and logging) damaged ones.</summary>
    /// <returns>The newest valid checkpoint, or null when there is none.</returns>
    public Checkpoint? LoadNewest()
    {
        var indexes = ListIndexes();
        for (var i = indexes.Count - 1; i >= 0; i--)
        {
            var path = PathFor(indexes[i]);
            if (TryDecode(AtomicFile.ReadAll(_device, path), out var checkpoint, out var why) && checkpoint!.Index == indexes[i])
            {
                return checkpoint;
            }

            LogSkipped(_logger, path, why ?? "index does not match the file name");
        }

        return null;
    }

    /// <summary>Indexes of the checkpoint files present, ascending.</summary>
    /// <returns>The indexes.</returns>
    public IReadOnlyList<ulong> ListIndexes()
    {
        var result = new List<ulong>();
        foreach (var name in _device.ListFiles(_directory))
        {
            if (TryParseIndex(name, out var index))
            {
                result.Add(index);
            }
        }

        result.Sort();
        return result;
    }

    /// <summary>Checks one checkpoint file's structure and CRC.</summary>
    /// <param name="index">The checkpoint's index (from <see cref="ListIndexes"/>).</param>
    /// <param name="problem">Why the file is invalid, or null.</param>
    /// <returns>True when the file is intact.</returns>
    public bool Verify(ulong index, out string? problem)
    {
        var ok = TryDecode(AtomicFile.ReadAll(_device, PathFor(index)), out var checkpoint, out problem);
        if (ok && checkpoint!.Index != index)
        {
            problem = $"holds index {checkpoint.Index} but is named for {index}";
            return false;
        }

        return ok;
    }

    /// <summary>The path of the checkpoint file for <paramref name="index"/>.</summary>
    /// <param name="index">Checkpoint index.</param>
    /// <returns>The file path.</returns>
    public string PathFor(ulong index) =>
        Path.Combine(_directory, string.Create(CultureInfo.InvariantCulture, $"{Prefix}{index:D20}{Suffix}"));

    private static bool TryParseIndex(string name, out ulong index)
    {
        index = 0;
        return name.Length == Prefix.Length + 20 + Suffix.Length &&
            name.StartsWith(Prefix, StringComparison.Ordinal) && name.EndsWith(Suffix, StringComparison.Ordinal) &&
            ulong.TryParse(name.AsSpan(Prefix.Length, 20), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    private static byte[] Encode(Checkpoint c)
    {
        var bytes = new byte[HeaderSize + c.Configuration.Length + c.State.Length];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], c.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], c.Term);
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)c.Configuration.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(span[28..], (ulong)c.State.Length);
        c.Configuration.Span.CopyTo(span[HeaderSize..]);
        c.State.Span.CopyTo(span[(HeaderSize + c.Configuration.Length)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32C.Compute(span[8..]));
        return bytes;
    }

    private static bool TryDecode(byte[] bytes, out Checkpoint? checkpoint, out string? problem)
    {
        checkpoint = null;
        var span = bytes.AsSpan();
        if (span.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic)
        {
            problem = "too short or bad magic";
            return false;
        }

        if (Crc32C.Compute(span[8..]) != BinaryPrimitives.ReadUInt32LittleEndian(span[4..]))
        {
            problem = "CRC mismatch";
            return false;
        }

        var configLength = BinaryPrimitives.ReadUInt32LittleEndian(span[24..]);
        var stateLength = BinaryPrimitives.ReadUInt64LittleEndian(span[28..]);
        if ((ulong)HeaderSize + configLength + stateLength != (ulong)span.Length)
        {
            problem = "section lengths do not match the file size";
            return false;
        }

        var config = bytes.AsMemory(HeaderSize, (int)configLength);
        var state = bytes.AsMemory(HeaderSize + (int)configLength);
        checkpoint = new Checkpoint(
            BinaryPrimitives.ReadUInt64LittleEndian(span[8..]),
            BinaryPrimitives.ReadUInt64LittleEndian(span[16..]),
            config,
            state);
        problem = null;
        return true;
    }

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "skipping damaged checkpoint {Path}: {Reason}")]
    private static partial void LogSkipped(ILogger logger, string path, string reason);
}
