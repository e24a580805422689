using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

/// <summary>
/// The page-cache window: the store leaves the open segment and the one sealed last in the OS page cache, drops each
/// older segment once when a roll pushes it out, and still reads it back (from the disk).
/// </summary>
public class PageCacheWindowTests
{
    [Fact]
    public async Task Each_segment_older_than_the_two_newest_is_dropped_from_the_page_cache_once_and_still_reads_back()
    {
        using var dir = new TempDir();
        using var files = FileSystemDevice.Create(IoEngine.Psync);
        var device = new DropRecordingDevice(files);
        // Inline writes without background preparation: the drop runs on the appending thread, so every drop caused
        // by an append has happened when the append returns (nothing races the assertions).
        var options = new StorageOptions { MaxSegmentBytes = 64 * 1024, MaxEntryBytes = 16 * 1024, IoEngine = IoEngine.Psync, InlineWrites = true };
        const int Count = 1000;
        using var log = LogStore.Open(device, Path.Combine(dir.Path, "log"), options);
        for (ulong i = 1; i <= Count; i++)
        {
            await log.AppendAsync(TestStores.PayloadFor(i, 500), term: 1);
        }

        var segments = TestStores.SegmentFiles(dir.Path);
        Assert.True(segments.Count >= 5, $"expected several segments, got {segments.Count}");
        Assert.Equal(segments.Take(segments.Count - 2), device.Drops.Select(d => d.Path));
        Assert.All(device.Drops, d => Assert.True(d.Offset == 0 && d.Length > 0, $"{d.Path}: dropped [{d.Offset}, +{d.Length})"));
        for (ulong i = 1; i <= Count; i++)
        {
            Assert.Equal(TestStores.PayloadFor(i, 500), log.Read(i).Payload.ToArray());
        }
    }

    /// <summary>The real file system, recording every <see cref="IDeviceFile.DropCache"/> call (and passing it on).</summary>
    private sealed class DropRecordingDevice(IStorageDevice inner) : IStorageDevice
    {
        public List<(string Path, long Offset, long Length)> Drops { get; } = [];

        public string EngineName => inner.EngineName;

        public IDeviceFile Open(string path, DeviceOpenMode mode) => new File(this, inner.Open(path, mode));

        public bool FileExists(string path) => inner.FileExists(path);

        public IReadOnlyList<string> ListFiles(string directory) => inner.ListFiles(directory);

        public void CreateDirectory(string path) => inner.CreateDirectory(path);

        public void DeleteFile(string path) => inner.DeleteFile(path);

        public void Rename(string source, string destination) => inner.Rename(source, destination);

        public void SyncDirectory(string path) => inner.SyncDirectory(path);

        public long AvailableBytes(string path) => inner.AvailableBytes(path);

        public DateTime LastWriteTimeUtc(string path) => inner.LastWriteTimeUtc(path);

        public IDisposable Lock(string path) => inner.Lock(path);

        private sealed class File(DropRecordingDevice device, IDeviceFile file) : IDeviceFile
        {
            public string Path => file.Path;

            public long Length => file.Length;

            public int Read(long offset, Span<byte> buffer) => file.Read(offset, buffer);

            public void Write(long offset, ReadOnlySpan<byte> data) => file.Write(offset, data);

            public void WriteAndSync(long offset, ReadOnlySpan<byte> data) => file.WriteAndSync(offset, data);

            public void StartWriteback(long offset, long length) => file.StartWriteback(offset, length);

            public void DropCache(long offset, long length)
            {
                device.Drops.Add((System.IO.Path.GetFullPath(file.Path), offset, length));
                file.DropCache(offset, length);
            }

            public void Sync() => file.Sync();

            public void SyncAll() => file.SyncAll();

            public void SetLength(long length) => file.SetLength(length);

            public void Allocate(long length, bool writeZeros = false) => file.Allocate(length, writeZeros);

            public void Dispose() => file.Dispose();
        }
    }
}
