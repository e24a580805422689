using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>
/// The real <see cref="IStorageDevice"/>: Linux files through <see cref="RandomAccess"/> for reads and the
/// chosen <see cref="IoEngine"/> for writes and fdatasync.
/// </summary>
public sealed partial class FileSystemDevice : IStorageDevice, IDisposable
{
    private readonly IWriteEngine _engine;

    private FileSystemDevice(IWriteEngine engine) => _engine = engine;

    /// <inheritdoc />
    public string EngineName => _engine.Name;

    /// <summary>
    /// Creates the device with the requested engine. <see cref="IoEngine.Auto"/> probes io_uring and falls back
    /// to <see cref="IoEngine.Psync"/>, logging the reason at Information level.
    /// </summary>
    /// <param name="engine">Requested engine.</param>
    /// <param name="logger">Receives the engine choice; null for none.</param>
    /// <returns>The device; dispose it after every file opened on it.</returns>
    /// <exception cref="StorageConfigurationException"><see cref="IoEngine.Uring"/> was requested but io_uring is unavailable; the message says why.</exception>
    public static FileSystemDevice Create(IoEngine engine, ILogger? logger = null)
    {
        logger ??= NullLogger.Instance;
        switch (engine)
        {
            case IoEngine.Psync:
                return new FileSystemDevice(new PsyncEngine());
            case IoEngine.Uring:
                if (UringEngine.TryCreate(out var uring, out var why))
                {
                    return new FileSystemDevice(uring!);
                }

                throw new StorageConfigurationException($"Storage:IoEngine is 'uring' but io_uring is unavailable: {why}");
            default:
                if (UringEngine.TryCreate(out var probed, out var reason))
                {
                    LogEngineChosen(logger, "uring", "io_uring probe succeeded");
                    return new FileSystemDevice(probed!);
                }

                LogEngineChosen(logger, "psync", $"io_uring unavailable: {reason}");
                return new FileSystemDevice(new PsyncEngine());
        }
    }

    /// <inheritdoc />
    public IDeviceFile Open(string path, DeviceOpenMode mode)
    {
        var handle = mode switch
        {
            DeviceOpenMode.CreateNew => File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read),
            DeviceOpenMode.OpenExisting => File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.Read),
            _ => File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite),
        };
        return new FileSystemFile(path, handle, _engine);
    }

    /// <inheritdoc />
    public bool FileExists(string path) => File.Exists(path);

    /// <inheritdoc />
    public IReadOnlyList<string> ListFiles(string directory)
    {
        var names = new List<string>();
        foreach (var path in Directory.EnumerateFiles(directory))
        {
            names.Add(System.IO.Path.GetFileName(path));
        }

        names.Sort(StringComparer.Ordinal);
        return names;
    }

    /// <inheritdoc />
    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    /// <inheritdoc />
    public void DeleteFile(string path) => File.Delete(path);

    /// <inheritdoc />
    public void Rename(string source, string destination) => File.Move(source, destination, overwrite: true);

    /// <inheritdoc />
    public void SyncDirectory(string path) => Native.SyncDirectory(path);

    /// <inheritdoc />
    public long AvailableBytes(string path)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return long.MaxValue;
        }
    }

    /// <inheritdoc />
    public DateTime LastWriteTimeUtc(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"{path} not found", path);
        }

        return File.GetLastWriteTimeUtc(path);
    }

    /// <inheritdoc />
    public IDisposable Lock(string path) =>
        new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);

    /// <summary>Releases the io_uring instance, if any.</summary>
    public void Dispose() => _engine.Dispose();

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "storage write engine: {Engine} ({Reason})")]
    private static partial void LogEngineChosen(ILogger logger, string engine, string reason);

    private sealed class FileSystemFile(string path, SafeFileHandle handle, IWriteEngine engine) : IDeviceFile
    {
        public string Path { get; } = path;

        public long Length => RandomAccess.GetLength(handle);

        public int Read(long offset, Span<byte> buffer)
        {
            var total = 0;
            while (total < buffer.Length)
            {
                var n = RandomAccess.Read(handle, buffer[total..], offset + total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }

        public void Write(long offset, ReadOnlySpan<byte> data) => engine.Write(handle, offset, data, sync: false);

        public void WriteAndSync(long offset, ReadOnlySpan<byte> data) => engine.Write(handle, offset, data, sync: true);

        public void StartWriteback(long offset, long length) => Native.StartWriteback(handle, offset, length);

        public void DropCache(long offset, long length) => Native.DropCache(handle, offset, length);

        public void Sync() => engine.DataSync(handle);

        public void SyncAll() => Native.FullSync(handle);

        public void SetLength(long length) => RandomAccess.SetLength(handle, length);

        public void Allocate(long length, bool writeZeros = false)
        {
            var from = RandomAccess.GetLength(handle);
            if (!Native.Allocate(handle, length) && RandomAccess.GetLength(handle) < length)
            {
                RandomAccess.SetLength(handle, length);
            }

            if (writeZeros && from < length)
            {
                var zeros = new byte[1 << 20];
                for (var at = from; at < length; at += zeros.Length)
                {
                    RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, length - at)), at);
                }
            }
        }

        public void Dispose() => handle.Dispose();
    }
}
