using WalrusGossip.Storage.Checkpoints;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage;

/// <summary>
/// Everything one agent keeps on disk, opened together under an exclusive lock on the data directory:
/// <c>raft/hardstate</c>, the segmented log in <c>log/</c> and checkpoints in <c>checkpoints/</c>.
/// </summary>
/// <remarks>Recovery order (ARCHITECTURE.md): newest valid checkpoint first, then the log.</remarks>
public sealed class NodeStorage : IDisposable
{
    /// <summary>Name of the lock file at the root of the data directory.</summary>
    public const string LockFileName = "LOCK";

    private readonly IDisposable _lock;
    private readonly FileSystemDevice? _ownedDevice;
    private readonly IStorageDevice _device;

    private NodeStorage(IStorageDevice device, string dataDirectory, IDisposable directoryLock, HardStateFile hardState, CheckpointStore checkpoints, Checkpoint? checkpoint, LogStore log, FileSystemDevice? ownedDevice, string engineName)
    {
        _device = device;
        EngineName = engineName;
        DataDirectory = dataDirectory;
        _lock = directoryLock;
        HardState = hardState;
        Checkpoints = checkpoints;
        LatestCheckpoint = checkpoint;
        Log = log;
        _ownedDevice = ownedDevice;
    }

    /// <summary>The write engine in use: "uring", "psync", or the simulated device's name.</summary>
    public string EngineName { get; }

    /// <summary>The data directory path.</summary>
    public string DataDirectory { get; }

    /// <summary>The Raft hard-state file.</summary>
    public HardStateFile HardState { get; }

    /// <summary>The checkpoint directory.</summary>
    public CheckpointStore Checkpoints { get; }

    /// <summary>The newest valid checkpoint found at open, or null.</summary>
    public Checkpoint? LatestCheckpoint { get; }

    /// <summary>The log.</summary>
    public LogStore Log { get; }

    /// <summary>Opens a data directory on the real file system with the engine named in <paramref name="options"/>.</summary>
    /// <param name="dataDirectory">Created if missing.</param>
    /// <param name="options">Storage options; validated.</param>
    /// <param name="logger">Receives recovery and engine-choice notes.</param>
    /// <returns>The open storage.</returns>
    /// <exception cref="DataDirectoryException">The directory is not usable (not writable, locked by another process, unknown files).</exception>
    /// <exception cref="LogCorruptionException">Recovery found corruption; nothing was modified.</exception>
    /// <exception cref="StorageConfigurationException">An option is invalid.</exception>
    public static NodeStorage Open(string dataDirectory, StorageOptions options, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var device = FileSystemDevice.Create(options.IoEngine, logger);
        try
        {
            return Open(device, dataDirectory, options, logger, device);
        }
        catch
        {
            device.Dispose();
            throw;
        }
    }

    /// <summary>Opens a data directory on any device (the simulator passes a simulated disk).</summary>
    /// <param name="device">The device.</param>
    /// <param name="dataDirectory">Created if missing.</param>
    /// <param name="options">Storage options; validated.</param>
    /// <param name="logger">Receives recovery notes.</param>
    /// <returns>The open storage.</returns>
    /// <exception cref="DataDirectoryException">The directory is not usable.</exception>
    /// <exception cref="LogCorruptionException">Recovery found corruption; nothing was modified.</exception>
    public static NodeStorage Open(IStorageDevice device, string dataDirectory, StorageOptions options, ILogger? logger = null) =>
        Open(device, dataDirectory, options, logger, null);

    private static NodeStorage Open(IStorageDevice device, string dataDirectory, StorageOptions options, ILogger? logger, FileSystemDevice? owned)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentException.ThrowIfNullOrEmpty(dataDirectory);
        options.Validate();
        IDisposable directoryLock;
        try
        {
            device.CreateDirectory(dataDirectory);
            device.CreateDirectory(Path.Combine(dataDirectory, "raft"));
            directoryLock = device.Lock(Path.Combine(dataDirectory, LockFileName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataDirectoryException($"data directory {dataDirectory} is not usable (not writable, or locked by another process): {e.Message}", e);
        }

        try
        {
            var checkpoints = new CheckpointStore(device, Path.Combine(dataDirectory, "checkpoints"), logger);
            var checkpoint = checkpoints.LoadNewest();
            var hardState = new HardStateFile(device, Path.Combine(dataDirectory, "raft", "hardstate"));
            _ = hardState.Load();
            var log = LogStore.Open(device, Path.Combine(dataDirectory, "log"), options, logger);
            return new NodeStorage(device, dataDirectory, directoryLock, hardState, checkpoints, checkpoint, log, owned, device.EngineName);
        }
        catch
        {
            directoryLock.Dispose();
            throw;
        }
    }

    /// <summary>The path of the removal marker: <c>raft/removed</c> in the data directory.</summary>
    public string RemovalMarkerPath => Path.Combine(DataDirectory, "raft", "removed");

    /// <summary>
    /// Reads the removal marker written by <see cref="SaveRemoval"/>: the index of the configuration entry by which an
    /// operator removed this node from its cluster, or null when the node was never told it was removed.
    /// </summary>
    /// <returns>The configuration index, or null.</returns>
    /// <exception cref="LogCorruptionException">The marker is damaged (bad length, magic or CRC).</exception>
    public ulong? ReadRemoval() => AtomicFile.ReadValue(_device, RemovalMarkerPath, RemovalMagic, "removal marker");

    /// <summary>
    /// Durably records that an operator removed this node from its cluster by the configuration entry at
    /// <paramref name="configIndex"/> (16 bytes: magic "RMV1", CRC-32C of the rest, the index; replaced atomically).
    /// A node with the marker neither campaigns nor votes after a restart; wiping the data directory is how it rejoins.
    /// </summary>
    /// <param name="configIndex">Index of the removing configuration entry (0 when unknown).</param>
    /// <exception cref="IOException">The marker could not be written.</exception>
    public void SaveRemoval(ulong configIndex) => AtomicFile.ReplaceValue(_device, RemovalMarkerPath, RemovalMagic, configIndex);

    private const uint RemovalMagic = 0x3156_4D52; // "RMV1"

    /// <summary>Path of the gossip keyring file written by <see cref="SaveGossipKeys"/>.</summary>
    public string GossipKeyringPath => Path.Combine(DataDirectory, "raft", "gossip.keyring");

    /// <summary>
    /// Durably records the gossip encryption keys, primary first (magic "GKR1", CRC-32C of the rest, a count byte, then
    /// each key as a length byte and its bytes; replaced atomically). A restarted agent keeps the keyring operators
    /// rotated to instead of the one in its configuration. The file holds secrets: it is made readable by its owner only.
    /// </summary>
    /// <param name="keys">1 to 255 keys of at most 255 bytes each.</param>
    /// <exception cref="ArgumentException">No key, too many, or one too long.</exception>
    /// <exception cref="IOException">The file could not be written.</exception>
    public void SaveGossipKeys(IReadOnlyList<byte[]> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        if (keys.Count is 0 or > 255 || keys.Any(k => k.Length is 0 or > 255))
        {
            throw new ArgumentException("a keyring holds 1 to 255 keys of 1 to 255 bytes", nameof(keys));
        }

        var content = new byte[9 + keys.Sum(k => 1 + k.Length)];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(content, KeyringMagic);
        content[8] = (byte)keys.Count;
        var at = 9;
        foreach (var key in keys)
        {
            content[at++] = (byte)key.Length;
            key.CopyTo(content, at);
            at += key.Length;
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(content.AsSpan(4), Records.Crc32C.Compute(content.AsSpan(8)));
        _device.CreateDirectory(Path.GetDirectoryName(GossipKeyringPath)!);
        AtomicFile.Replace(_device, GossipKeyringPath, content);
        if (!OperatingSystem.IsWindows() && File.Exists(GossipKeyringPath))
        {
            File.SetUnixFileMode(GossipKeyringPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    /// <summary>Reads the keyring written by <see cref="SaveGossipKeys"/>, or null when there is none.</summary>
    /// <returns>The keys, primary first, or null.</returns>
    /// <exception cref="LogCorruptionException">The file is damaged (bad magic, CRC or lengths).</exception>
    public IReadOnlyList<byte[]>? ReadGossipKeys()
    {
        if (!_device.FileExists(GossipKeyringPath))
        {
            return null;
        }

        var bytes = AtomicFile.ReadAll(_device, GossipKeyringPath);
        var keys = new List<byte[]>();
        var ok = bytes.Length >= 9 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes) == KeyringMagic &&
            Records.Crc32C.Compute(bytes.AsSpan(8)) == System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4));
        var at = 9;
        for (var i = 0; ok && i < bytes[8]; i++)
        {
            ok = at < bytes.Length && bytes[at] > 0 && at + 1 + bytes[at] <= bytes.Length;
            if (ok)
            {
                keys.Add(bytes.AsSpan(at + 1, bytes[at]).ToArray());
                at += 1 + bytes[at];
            }
        }

        return ok && at == bytes.Length && keys.Count > 0
            ? keys
            : throw new LogCorruptionException(GossipKeyringPath, 0, 0, "the gossip keyring is damaged (bad magic, CRC or lengths)");
    }

    private const uint KeyringMagic = 0x3152_4B47; // "GKR1"

    /// <summary>Flushes and closes the log, then releases the directory lock.</summary>
    public void Dispose()
    {
        try
        {
            Log.Dispose();
        }
        finally
        {
            _lock.Dispose(); // released even when closing a failed log throws, so the directory can be reopened
            _ownedDevice?.Dispose();
        }
    }
}
