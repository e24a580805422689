using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

public sealed unsafe class UringAbiTests
{
    [Fact]
    public void Struct_sizes_match_the_kernel_abi()
    {
        Assert.Equal(40, sizeof(IoSqringOffsets));
        Assert.Equal(40, sizeof(IoCqringOffsets));
        Assert.Equal(120, sizeof(IoUringParams));
        Assert.Equal(64, sizeof(IoUringSqe));
        Assert.Equal(16, sizeof(IoUringCqe));
        Assert.Equal(16, sizeof(IoVec));
    }

    [Fact]
    public void Field_offsets_match_the_kernel_abi()
    {
        Assert.Equal(40, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.SqOff)));
        Assert.Equal(80, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.CqOff)));
        Assert.Equal(20, (int)Marshal.OffsetOf<IoUringParams>(nameof(IoUringParams.Features)));
        Assert.Equal(32, (int)Marshal.OffsetOf<IoSqringOffsets>(nameof(IoSqringOffsets.UserAddr)));
        Assert.Equal(20, (int)Marshal.OffsetOf<IoCqringOffsets>(nameof(IoCqringOffsets.Cqes)));
        Assert.Equal(4, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.Fd)));
        Assert.Equal(8, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.Off)));
        Assert.Equal(16, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.Addr)));
        Assert.Equal(24, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.Len)));
        Assert.Equal(28, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.OpFlags)));
        Assert.Equal(32, (int)Marshal.OffsetOf<IoUringSqe>(nameof(IoUringSqe.UserData)));
        Assert.Equal(8, (int)Marshal.OffsetOf<IoUringCqe>(nameof(IoUringCqe.Res)));
    }

    [Fact]
    public void Setup_failures_are_described_with_errno_name_and_number()
    {
        Assert.StartsWith("io_uring_setup failed: ENOSYS (38): ", UringRing.DescribeSetupFailure(38, 8), StringComparison.Ordinal);
        Assert.StartsWith("io_uring_setup failed: EPERM (1): ", UringRing.DescribeSetupFailure(1, 8), StringComparison.Ordinal);
        Assert.Contains("entries=8", UringRing.DescribeSetupFailure(22, 8), StringComparison.Ordinal);
        Assert.Equal("io_uring_setup failed: EMFILE (24)", UringRing.DescribeSetupFailure(24, 8));
    }

    [Fact]
    public void Errno_is_formatted_with_name_and_number()
    {
        Assert.Equal("EBADF (9)", UringInterop.FormatErrno(9));
        Assert.Equal("ECANCELED (125)", UringInterop.FormatErrno(125));
        Assert.Equal("errno 4095", UringInterop.FormatErrno(4095));
    }
}

/// <summary>
/// Runs alone: one test counts the process's io_uring descriptors in /proc/self/fd, which rings created by other test
/// classes running in parallel (the io_uring store tests) would change under it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ProcessWideDescriptors
{
    /// <summary>The collection's name.</summary>
    public const string Name = "process-wide descriptors";
}

[Collection(ProcessWideDescriptors.Name)]
public sealed class UringRingTests : IDisposable
{
    private readonly string _dir;

    public UringRingTests()
    {
        _dir = Path.Combine(Path.GetTempPath(), "uring-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static UringRing CreateRing(uint entries = 8)
    {
        bool ok = UringRing.TryCreate(entries, out UringRing? ring, out string reason);
        Assert.SkipUnless(ok, "io_uring unavailable: " + reason);
        Assert.Equal(string.Empty, reason);
        return ring!;
    }

    private SafeFileHandle OpenWrite(string name) =>
        File.OpenHandle(Path.Combine(_dir, name), FileMode.Create, FileAccess.ReadWrite);

    private static byte[] Pattern(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] ReadBack(SafeFileHandle file, long offset, int length)
    {
        var buffer = new byte[length];
        int total = 0;
        while (total < length)
        {
            int n = RandomAccess.Read(file, buffer.AsSpan(total), offset + total);
            Assert.True(n > 0, "unexpected end of file");
            total += n;
        }

        return buffer;
    }

    [Fact]
    public void TryCreate_reports_ring_geometry()
    {
        using UringRing ring = CreateRing(6);
        Assert.Equal(8u, ring.SqEntries); // rounded up to a power of two
        Assert.True(ring.CqEntries >= ring.SqEntries);
    }

    [Fact]
    public void TryCreate_rejects_out_of_range_entries()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => UringRing.TryCreate(1, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => UringRing.TryCreate(UringRing.MaxEntries + 1, out _, out _));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Write_then_read_back(bool sync)
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("a.seg");
        byte[] data = Pattern(4096 + 17, 1);
        ring.Write(file, 0, data, sync);
        Assert.Equal(data, ReadBack(file, 0, data.Length));
    }

    [Fact]
    public void Write_at_nonzero_offsets_leaves_a_hole_and_appends()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("b.seg");
        byte[] first = Pattern(1000, 2);
        byte[] second = Pattern(333, 3);
        ring.Write(file, 12_345, first, sync: true);
        ring.Write(file, 12_345 + first.Length, second, sync: false);
        Assert.Equal(12_345 + first.Length + second.Length, RandomAccess.GetLength(file));
        Assert.Equal(new byte[12_345], ReadBack(file, 0, 12_345));
        Assert.Equal(first, ReadBack(file, 12_345, first.Length));
        Assert.Equal(second, ReadBack(file, 12_345 + first.Length, second.Length));
    }

    [Fact]
    public void Many_sequential_writes_reuse_the_ring()
    {
        using UringRing ring = CreateRing(2);
        using SafeFileHandle file = OpenWrite("c.seg");
        byte[] data = Pattern(100, 4);
        for (int i = 0; i < 1000; i++)
        {
            data[0] = (byte)i;
            ring.Write(file, i * 100L, data, sync: i % 10 == 0);
        }

        byte[] all = ReadBack(file, 0, 100_000);
        for (int i = 0; i < 1000; i++)
        {
            Assert.Equal((byte)i, all[i * 100]);
            Assert.Equal(data[1], all[(i * 100) + 1]);
        }
    }

    [Fact]
    public void Large_write_is_written_completely()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("large.seg");
        byte[] data = Pattern(8 * 1024 * 1024, 5);
        ring.Write(file, 4096, data, sync: true);
        Assert.Equal(4096 + data.Length, RandomAccess.GetLength(file));
        Assert.Equal(data, ReadBack(file, 4096, data.Length));
    }

    [Fact]
    public void Gather_write_of_many_buffers_is_contiguous()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("gather.seg");
        var buffers = new ReadOnlyMemory<byte>[UringRing.MaxGatherBuffers];
        var expected = new List<byte>();
        for (int i = 0; i < buffers.Length; i++)
        {
            byte[] b = Pattern(1 + (i * 37 % 700), 100 + i);
            // Slices of larger arrays and empty buffers must work too.
            buffers[i] = i % 50 == 0 ? ReadOnlyMemory<byte>.Empty : new ReadOnlyMemory<byte>([0xEE, .. b, 0xEE], 1, b.Length);
            if (i % 50 != 0)
            {
                expected.AddRange(b);
            }
        }

        ring.WriteGather(file, 777, buffers, sync: true);
        Assert.Equal(777 + expected.Count, RandomAccess.GetLength(file));
        Assert.Equal(expected.ToArray(), ReadBack(file, 777, expected.Count));
    }

    [Fact]
    public void Large_gather_write_is_written_completely()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("gather-large.seg");
        var buffers = new ReadOnlyMemory<byte>[16];
        var expected = new List<byte>();
        for (int i = 0; i < buffers.Length; i++)
        {
            byte[] b = Pattern(1024 * 1024, 200 + i);
            buffers[i] = b;
            expected.AddRange(b);
        }

        ring.WriteGather(file, 0, buffers, sync: false);
        ring.DataSync(file);
        Assert.Equal(expected.ToArray(), ReadBack(file, 0, expected.Count));
    }

    [Fact]
    public void Gather_write_rejects_too_many_buffers()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("toomany.seg");
        var buffers = new ReadOnlyMemory<byte>[UringRing.MaxGatherBuffers + 1];
        ArgumentException ex = Assert.Throws<ArgumentException>(() => ring.WriteGather(file, 0, buffers, sync: false));
        Assert.Equal("buffers", ex.ParamName);
    }

    [Fact]
    public void Empty_writes_are_allowed()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("empty.seg");
        ring.Write(file, 0, ReadOnlySpan<byte>.Empty, sync: true);
        ring.WriteGather(file, 0, ReadOnlySpan<ReadOnlyMemory<byte>>.Empty, sync: true);
        Assert.Equal(0, RandomAccess.GetLength(file));
    }

    [Fact]
    public void DataSync_alone_succeeds()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("sync.seg");
        RandomAccess.Write(file, Pattern(4096, 6), 0);
        ring.DataSync(file);
        ring.DataSync(file);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Write_to_a_read_only_fd_throws_IOException_naming_EBADF(bool sync)
    {
        using UringRing ring = CreateRing();
        string path = Path.Combine(_dir, "ro.seg");
        File.WriteAllBytes(path, new byte[10]);
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Open, FileAccess.Read);

        IOException ex = Assert.Throws<IOException>(() => ring.Write(file, 0, new byte[100], sync));
        Assert.Contains("EBADF (9)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(9, ex.HResult);

        IOException gather = Assert.Throws<IOException>(() => ring.WriteGather(file, 0, new ReadOnlyMemory<byte>[] { new byte[10], new byte[20] }, sync));
        Assert.Contains("EBADF (9)", gather.Message, StringComparison.Ordinal);

        // The linked fdatasync's -ECANCELED completion was drained: the ring still works.
        using SafeFileHandle writable = OpenWrite("after-failure.seg");
        byte[] data = Pattern(64, 7);
        ring.Write(writable, 0, data, sync: true);
        Assert.Equal(data, ReadBack(writable, 0, data.Length));
    }

    [Fact]
    public void Write_beyond_the_maximum_file_size_fails_with_EFBIG_and_the_ring_recovers()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("efbig.seg");
        IOException ex = Assert.Throws<IOException>(() => ring.Write(file, 1L << 62, new byte[10], sync: true));
        Assert.Contains("EFBIG (27)", ex.Message, StringComparison.Ordinal);
        ring.Write(file, 0, new byte[10], sync: true);
        Assert.Equal(10, RandomAccess.GetLength(file));
    }

    /// <summary>
    /// Finds the filesystem's maximum file size (s_maxbytes) for <paramref name="file"/>: the kernel truncates a
    /// write that straddles it (a genuine short write) and fails the next one with EFBIG.
    /// </summary>
    private static long FindMaxFileSize(SafeFileHandle file)
    {
        static bool CanWriteAt(SafeFileHandle f, long offset)
        {
            try
            {
                RandomAccess.Write(f, new byte[1], offset);
                return true;
            }
            catch (Exception ex) when (ex is IOException or ArgumentOutOfRangeException)
            {
                return false; // .NET maps EFBIG to ArgumentOutOfRangeException
            }
        }

        long lo = 0; // writable
        long hi = 1L << 62; // not writable, unless the filesystem allows more
        Assert.SkipWhen(CanWriteAt(file, hi), "filesystem allows files beyond 2^62 bytes");
        while (hi - lo > 1)
        {
            long mid = lo + ((hi - lo) / 2);
            if (CanWriteAt(file, mid))
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        file.Dispose();
        return hi; // first offset that cannot be written
    }

    [Fact]
    public void Write_straddling_the_maximum_file_size_is_resubmitted_after_the_short_write()
    {
        using UringRing ring = CreateRing();
        string path = Path.Combine(_dir, "short.seg");
        long max = FindMaxFileSize(File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite));
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
        byte[] data = Pattern(3 * 4096, 9);
        long start = max - 4096;

        // Round 1 writes 4096 bytes (short, the linked fdatasync is cancelled), round 2 at `max` gets EFBIG.
        IOException ex = Assert.Throws<IOException>(() => ring.Write(file, start, data, sync: true));
        Assert.Contains(FormattableString.Invariant($"offset {max} failed: EFBIG (27)"), ex.Message, StringComparison.Ordinal);
        Assert.Equal(data.AsSpan(0, 4096).ToArray(), ReadBack(file, start, 4096));

        // Gather: the short write ends inside the second buffer; the remainder starts mid-buffer.
        byte[] a = Pattern(2048, 10);
        byte[] b = Pattern(4096, 11);
        byte[] c = Pattern(2048, 12);
        IOException gather = Assert.Throws<IOException>(() => ring.WriteGather(file, start, new ReadOnlyMemory<byte>[] { a, b, c }, sync: true));
        Assert.Contains(FormattableString.Invariant($"offset {max} failed: EFBIG (27)"), gather.Message, StringComparison.Ordinal);
        Assert.Equal([.. a, .. b.AsSpan(0, 2048)], ReadBack(file, start, 4096));
    }

    [Fact]
    public void Closed_file_handle_throws_ObjectDisposedException()
    {
        using UringRing ring = CreateRing();
        SafeFileHandle file = OpenWrite("closed.seg");
        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => ring.Write(file, 0, new byte[1], sync: false));
    }

    [Fact]
    public void Dispose_twice_is_safe_closes_the_ring_fd_and_later_use_throws()
    {
        static int CountRingFds() => new DirectoryInfo("/proc/self/fd").GetFileSystemInfos()
            .Count(f => f.LinkTarget is { } target && target.Contains("io_uring", StringComparison.Ordinal));

        int before = CountRingFds();
        UringRing ring = CreateRing();
        Assert.Equal(before + 1, CountRingFds());
        ring.Dispose();
        ring.Dispose();
        Assert.Equal(before, CountRingFds());
        using SafeFileHandle file = OpenWrite("disposed.seg");
        Assert.Throws<ObjectDisposedException>(() => ring.Write(file, 0, new byte[1], sync: false));
        Assert.Throws<ObjectDisposedException>(() => ring.DataSync(file));
    }

    [Fact]
    public void Steady_state_calls_do_not_allocate()
    {
        using UringRing ring = CreateRing();
        using SafeFileHandle file = OpenWrite("alloc.seg");
        byte[] data = Pattern(1024, 8);
        ReadOnlyMemory<byte>[] buffers = [data, data.AsMemory(0, 100), data.AsMemory(100, 200)];
        for (int i = 0; i < 10; i++)
        {
            ring.Write(file, i * 1024L, data, sync: true);
            ring.WriteGather(file, i * 1024L, buffers, sync: true);
            ring.DataSync(file);
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            ring.Write(file, i * 1024L, data, sync: i % 2 == 0);
            ring.WriteGather(file, i * 1024L, buffers, sync: i % 2 == 0);
            ring.DataSync(file);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
    }

    [Fact]
    public void Concurrent_callers_are_serialized()
    {
        using UringRing ring = CreateRing(4);
        using SafeFileHandle file = OpenWrite("concurrent.seg");
        const int perThread = 200;
        Parallel.For(0, 4, t =>
        {
            var data = new byte[512];
            Array.Fill(data, (byte)(t + 1));
            for (int i = 0; i < perThread; i++)
            {
                ring.Write(file, ((t * perThread) + i) * 512L, data, sync: i % 20 == 0);
            }
        });

        byte[] all = ReadBack(file, 0, 4 * perThread * 512);
        for (int t = 0; t < 4; t++)
        {
            Assert.All(all.AsSpan(t * perThread * 512, perThread * 512).ToArray(), b => Assert.Equal((byte)(t + 1), b));
        }
    }
}
