using WalrusGossip.Storage.IO;
using WalrusGossip.Storage.Records;
using WalrusGossip.Storage.Segments;

namespace WalrusGossip.Simulation.Disk;

/// <summary>
/// One node's disk, in memory, with the failure model of a real one: file contents and directory entries become
/// durable only when synced (<see cref="IDeviceFile.Sync"/>, <see cref="IDeviceFile.SyncAll"/>,
/// <see cref="IStorageDevice.SyncDirectory"/>). On <see cref="Crash"/>, unsynced writes to a file survive in issue order
/// up to a random cut: the write at the cut is torn at 512-byte sector granularity (a random subset of its sectors
/// lands), later ones are lost. Unsynced directory operations survive up to a random prefix, per directory.
/// </summary>
/// <remarks>
/// The storage layer sees the disk through <see cref="Attach"/>: a <see cref="DiskHandle"/> per process incarnation.
/// A crash can be armed to fire inside a device call (<see cref="ArmCrashAfterOps"/>), so a process can die between
/// a write and its fdatasync; the handle then throws <see cref="SimulatedCrashException"/> on every later call.
/// Single-threaded; all randomness comes from the generator given at construction.
/// </remarks>
internal sealed class SimulatedDisk
{
    /// <summary>Sector size for torn writes.</summary>
    public const int SectorBytes = 512;

    private readonly Random _random;
    private readonly Dictionary<string, Inode> _current = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Inode> _durable = new(StringComparer.Ordinal);
    private readonly HashSet<string> _directories = new(StringComparer.Ordinal);
    private readonly List<NamespaceOp> _pendingOps = [];
    private DiskHandle? _handle;
    private long _nextInodeId;
    private long _opsUntilCrash = -1;

    /// <summary>Creates an empty disk.</summary>
    /// <param name="random">Decides which unsynced data survives a crash.</param>
    public SimulatedDisk(Random random) => _random = random;

    /// <summary>When false, a crash keeps every unsynced write and directory operation (a process crash with the OS page cache intact); when true, they are lost or torn.</summary>
    public bool LoseUnsyncedOnCrash { get; init; } = true;

    /// <summary>Set while the checkers read the node's log: such reads are not the process's and never trigger an armed crash.</summary>
    public bool Observing { get; set; }

    /// <summary>Device operations performed, for statistics.</summary>
    public long Operations { get; private set; }

    /// <summary>What the disk reports as free space (a "disk full" fault sets it to 0 until healed); writes themselves never fail for space.</summary>
    public long AvailableBytes { get; set; } = long.MaxValue;

    /// <summary>
    /// The virtual wall clock stamped on a file at each write or length change and reported by
    /// <see cref="IStorageDevice.LastWriteTimeUtc"/> (the simulator gives its virtual time on the epoch of its nodes'
    /// <see cref="Storage.StorageOptions.TimeProvider"/>). Default: always <see cref="DateTime.UnixEpoch"/>.
    /// </summary>
    public Func<DateTime> Clock { get; init; } = () => DateTime.UnixEpoch;

    /// <summary>File syncs (fdatasync, fsync) performed; the simulator charges virtual time for each.</summary>
    public long Syncs { get; private set; }

    /// <summary>Opens the disk for a new process incarnation; the previous handle must have crashed or been closed.</summary>
    /// <returns>The device to give the node.</returns>
    public DiskHandle Attach()
    {
        _handle = new DiskHandle(this);
        _opsUntilCrash = -1;
        return _handle;
    }

    /// <summary>Makes the process crash inside its <paramref name="ops"/>-th next device call (0: the next one).</summary>
    /// <param name="ops">Device calls to let through first.</param>
    public void ArmCrashAfterOps(long ops) => _opsUntilCrash = ops;

    /// <summary>
    /// Power loss: the current handle dies, unsynced data and directory operations are partly kept (see the type
    /// remarks), and the disk's visible state becomes its durable state.
    /// </summary>
    public void Crash()
    {
        if (_handle is not null)
        {
            _handle.Dead = true;
            _handle = null;
        }

        _opsUntilCrash = -1;
        var byDirectory = new Dictionary<string, List<NamespaceOp>>(StringComparer.Ordinal);
        foreach (var op in _pendingOps)
        {
            if (!byDirectory.TryGetValue(op.Directory, out var list))
            {
                byDirectory[op.Directory] = list = [];
            }

            list.Add(op);
        }

        foreach (var (_, ops) in byDirectory.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var keep = LoseUnsyncedOnCrash ? _random.Next(ops.Count + 1) : ops.Count;
            for (var i = 0; i < keep; i++)
            {
                ApplyToDurable(ops[i]);
            }
        }

        _pendingOps.Clear();
        var inodes = new HashSet<Inode>();
        foreach (var inode in _current.Values)
        {
            inodes.Add(inode);
        }

        foreach (var inode in _durable.Values)
        {
            inodes.Add(inode);
        }

        foreach (var inode in inodes.OrderBy(i => i.Id))
        {
            if (LoseUnsyncedOnCrash)
            {
                inode.Crash(_random);
            }
            else
            {
                inode.Sync();
                inode.Crash(_random);
            }
        }

        _current.Clear();
        foreach (var (path, inode) in _durable)
        {
            _current[path] = inode;
        }
    }

    /// <summary>Paths of segment files other than the newest one in each log directory (sealed segments), ordinal order.</summary>
    /// <returns>Durable paths that hold at least one written byte.</returns>
    public IReadOnlyList<string> SealedSegments()
    {
        var segments = _durable.Keys.Where(p => p.EndsWith(".seg", StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (segments.Count > 0)
        {
            segments.RemoveAt(segments.Count - 1);
        }

        return segments.Where(p => _durable[p].WrittenEnd > 0).ToList();
    }

    /// <summary>Flips one bit in the durable (and visible) content of <paramref name="path"/> within its written range.</summary>
    /// <param name="path">A file path from <see cref="SealedSegments"/>.</param>
    /// <param name="random">Chooses the byte and bit.</param>
    /// <returns>The offset and the original byte, for <see cref="RestoreByte"/>.</returns>
    public (long Offset, byte Original) FlipBit(string path, Random random)
    {
        var inode = _durable[path];
        var offset = random.NextInt64(inode.WrittenEnd);
        var original = inode.FlipDurableBit(offset, random.Next(8));
        return (offset, original);
    }

    /// <summary>
    /// In the durable segment file holding <paramref name="index"/>, changes one payload byte of that record and
    /// recomputes its CRC (<see cref="SilentCorruption"/>): corruption no checksum can see.
    /// </summary>
    /// <param name="index">The record's log index.</param>
    /// <returns>The segment changed, or null when no segment holds an intact record with a payload at that index.</returns>
    public string? CorruptRecordSilently(ulong index)
    {
        var holder = _durable.Keys
            .Where(p => p.EndsWith(".seg", StringComparison.Ordinal) && SegmentNames.TryParse(Path.GetFileName(p), out var first, out _) && first <= index)
            .OrderByDescending(p => p, StringComparer.Ordinal)
            .FirstOrDefault();
        return holder is not null && _durable[holder].ChangeDurable(bytes => SilentCorruption.FlipPayloadBit(bytes, index)) ? holder : null;
    }

    /// <summary>Puts back a byte changed by <see cref="FlipBit"/> (the repair after detection).</summary>
    /// <param name="path">File path.</param>
    /// <param name="offset">Byte offset.</param>
    /// <param name="original">Original value.</param>
    public void RestoreByte(string path, long offset, byte original) => _durable[path].SetDurableByte(offset, original);

    private void ApplyToDurable(NamespaceOp op)
    {
        switch (op.Kind)
        {
            case NamespaceOpKind.Create:
                _durable[op.Path] = op.Inode!;
                break;
            case NamespaceOpKind.Delete:
                _durable.Remove(op.Path);
                break;
            case NamespaceOpKind.Rename:
                if (_durable.Remove(op.Path, out var moved))
                {
                    _durable[op.Destination!] = moved;
                }

                break;
        }
    }

    private void BeforeOp(DiskHandle handle)
    {
        if (handle.Dead || _handle != handle)
        {
            throw new SimulatedCrashException();
        }

        if (Observing)
        {
            return;
        }

        Operations++;
        if (_opsUntilCrash == 0)
        {
            Crash();
            throw new SimulatedCrashException();
        }

        if (_opsUntilCrash > 0)
        {
            _opsUntilCrash--;
        }
    }

    private static string Normalize(string path) => Path.GetFullPath(path);

    private static string DirectoryOf(string path) => Path.GetDirectoryName(path) ?? "/";

    /// <summary>The storage device view of one process incarnation.</summary>
    internal sealed class DiskHandle(SimulatedDisk disk) : IStorageDevice
    {
        public bool Dead { get; set; }

        public string EngineName => "sim";

        public long AvailableBytes(string path) => disk.AvailableBytes;

        public IDeviceFile Open(string path, DeviceOpenMode mode)
        {
            disk.BeforeOp(this);
            path = Normalize(path);
            disk._current.TryGetValue(path, out var inode);
            switch (mode)
            {
                case DeviceOpenMode.CreateNew:
                    if (inode is not null)
                    {
                        throw new IOException($"{path} exists");
                    }

                    if (!disk._directories.Contains(DirectoryOf(path)))
                    {
                        throw new DirectoryNotFoundException(DirectoryOf(path));
                    }

                    inode = new Inode(++disk._nextInodeId) { LastWriteUtc = disk.Clock() };
                    disk._current[path] = inode;
                    disk._pendingOps.Add(new NamespaceOp(NamespaceOpKind.Create, DirectoryOf(path), path, null, inode));
                    return new SimFile(this, disk, path, inode, readOnly: false);
                default:
                    if (inode is null)
                    {
                        throw new FileNotFoundException($"{path} not found", path);
                    }

                    return new SimFile(this, disk, path, inode, mode == DeviceOpenMode.ReadOnly);
            }
        }

        public bool FileExists(string path)
        {
            disk.BeforeOp(this);
            return disk._current.ContainsKey(Normalize(path));
        }

        public IReadOnlyList<string> ListFiles(string directory)
        {
            disk.BeforeOp(this);
            directory = Normalize(directory);
            if (!disk._directories.Contains(directory))
            {
                throw new DirectoryNotFoundException(directory);
            }

            var names = new List<string>();
            foreach (var path in disk._current.Keys)
            {
                if (DirectoryOf(path) == directory)
                {
                    names.Add(Path.GetFileName(path));
                }
            }

            names.Sort(StringComparer.Ordinal);
            return names;
        }

        public void CreateDirectory(string path)
        {
            disk.BeforeOp(this);
            var dir = Normalize(path);
            while (dir.Length > 1 && disk._directories.Add(dir))
            {
                dir = DirectoryOf(dir);
            }
        }

        public void DeleteFile(string path)
        {
            disk.BeforeOp(this);
            path = Normalize(path);
            if (disk._current.Remove(path))
            {
                disk._pendingOps.Add(new NamespaceOp(NamespaceOpKind.Delete, DirectoryOf(path), path, null, null));
            }
        }

        public void Rename(string source, string destination)
        {
            disk.BeforeOp(this);
            source = Normalize(source);
            destination = Normalize(destination);
            if (!disk._current.Remove(source, out var inode))
            {
                throw new FileNotFoundException($"{source} not found", source);
            }

            disk._current[destination] = inode;
            disk._pendingOps.Add(new NamespaceOp(NamespaceOpKind.Rename, DirectoryOf(source), source, destination, inode));
        }

        public void SyncDirectory(string path)
        {
            disk.BeforeOp(this);
            var dir = Normalize(path);
            for (var i = 0; i < disk._pendingOps.Count;)
            {
                if (disk._pendingOps[i].Directory == dir)
                {
                    disk.ApplyToDurable(disk._pendingOps[i]);
                    disk._pendingOps.RemoveAt(i);
                }
                else
                {
                    i++;
                }
            }
        }

        public DateTime LastWriteTimeUtc(string path)
        {
            disk.BeforeOp(this);
            path = Normalize(path);
            return disk._current.TryGetValue(path, out var inode)
                ? inode.LastWriteUtc
                : throw new FileNotFoundException($"{path} not found", path);
        }

        public IDisposable Lock(string path)
        {
            disk.BeforeOp(this);
            return NoLock.Instance;
        }

        internal void Check() => disk.BeforeOp(this);
    }

    private sealed class NoLock : IDisposable
    {
        public static readonly NoLock Instance = new();

        public void Dispose()
        {
        }
    }

    private sealed class SimFile(DiskHandle handle, SimulatedDisk disk, string path, Inode inode, bool readOnly) : IDeviceFile
    {
        public string Path => path;

        public long Length => inode.Length;

        public int Read(long offset, Span<byte> buffer)
        {
            handle.Check();
            return inode.Read(offset, buffer);
        }

        public void Write(long offset, ReadOnlySpan<byte> data)
        {
            EnsureWritable();
            inode.Write(offset, data);
            inode.LastWriteUtc = disk.Clock();
        }

        public void WriteAndSync(long offset, ReadOnlySpan<byte> data)
        {
            EnsureWritable();
            inode.Write(offset, data);
            inode.LastWriteUtc = disk.Clock();
            handle.Check();
            inode.Sync();
            disk.Syncs++;
        }

        public void Sync()
        {
            handle.Check();
            inode.Sync();
            disk.Syncs++;
        }

        public void SyncAll()
        {
            handle.Check();
            inode.Sync();
            disk.Syncs++;
        }

        public void SetLength(long length)
        {
            EnsureWritable();
            inode.SetLength(length);
            inode.LastWriteUtc = disk.Clock();
        }

        public void Allocate(long length, bool writeZeros = false)
        {
            EnsureWritable();
            if (length > inode.Length)
            {
                inode.SetLength(length);
                inode.LastWriteUtc = disk.Clock();
            }
        }

        public void Dispose()
        {
        }

        private void EnsureWritable()
        {
            handle.Check();
            if (readOnly)
            {
                throw new IOException($"{path} is open read-only");
            }

            _ = disk;
        }
    }

    private enum NamespaceOpKind
    {
        Create,
        Delete,
        Rename,
    }

    private sealed record NamespaceOp(NamespaceOpKind Kind, string Directory, string Path, string? Destination, Inode? Inode);
}
