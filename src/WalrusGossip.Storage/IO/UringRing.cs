using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>
/// One io_uring instance driven through raw syscalls (<c>io_uring_setup</c>, <c>io_uring_enter</c>,
/// <c>io_uring_register</c>) and mmap'd SQ/CQ rings. Meant for a single writer thread; every operation
/// takes a lock anyway, submits with one <c>io_uring_enter</c> and blocks until all of its completions
/// are reaped, so at most two requests are ever in flight and caller buffers only need to stay pinned
/// for the duration of the call.
/// </summary>
/// <remarks>
/// Requires 64-bit Linux (x86_64 or aarch64) with <c>IORING_OP_WRITE</c>, <c>IORING_OP_WRITEV</c> and
/// <c>IORING_OP_FSYNC</c> (kernel 5.6 or later); <see cref="TryCreate"/> probes all of this.
/// Failures surface as <see cref="IOException"/> whose message names the errno and whose
/// <see cref="Exception.HResult"/> is the positive errno value.
/// </remarks>
internal sealed unsafe class UringRing : IDisposable
{
    /// <summary>Most buffers one <see cref="WriteGather"/> call accepts (the kernel's UIO_MAXIOV).</summary>
    internal const int MaxGatherBuffers = 1024;

    /// <summary>Largest ring the kernel accepts (IORING_MAX_ENTRIES).</summary>
    internal const uint MaxEntries = 32768;

    // user_data values: index into _results.
    private const int WriteSlot = 0;
    private const int SyncSlot = 1;
    private const int NoResult = int.MinValue;

    // Consecutive EINTR / EAGAIN / zero-byte results tolerated before giving up.
    private const int MaxTransientRetries = 10_000;

    private readonly Lock _gate = new();
    private readonly int _ringFd;

    private readonly nint _sqRing;
    private readonly nuint _sqRingSize;
    private readonly nint _cqRing; // == _sqRing with IORING_FEAT_SINGLE_MMAP
    private readonly nuint _cqRingSize; // 0 with IORING_FEAT_SINGLE_MMAP
    private readonly nint _sqeRegion;
    private readonly nuint _sqeRegionSize;

    private readonly uint* _sqHead;
    private readonly uint* _sqTail;
    private readonly uint _sqMask;
    private readonly uint _sqEntries;
    private readonly IoUringSqe* _sqes;

    private readonly uint* _cqHead;
    private readonly uint* _cqTail;
    private readonly uint _cqMask;
    private readonly IoUringCqe* _cqes;

    private readonly IoVec* _iov;
    private readonly MemoryHandle[] _pins = new MemoryHandle[MaxGatherBuffers];
    private readonly int[] _results = new int[2];

    private uint _sqLocalTail;
    private bool _initialized; // set last in the constructor: the finalizer releases nothing before that
    private bool _disposed;
    private string? _faultReason;

    private UringRing(int ringFd, in IoUringParams p, nint sqRing, nuint sqRingSize, nint cqRing, nuint cqRingSize, nint sqeRegion, nuint sqeRegionSize, IoVec* iov)
    {
        _ringFd = ringFd;
        _sqRing = sqRing;
        _sqRingSize = sqRingSize;
        _cqRing = cqRing;
        _cqRingSize = cqRingSize;
        _sqeRegion = sqeRegion;
        _sqeRegionSize = sqeRegionSize;

        byte* sq = (byte*)sqRing;
        _sqHead = (uint*)(sq + p.SqOff.Head);
        _sqTail = (uint*)(sq + p.SqOff.Tail);
        _sqMask = *(uint*)(sq + p.SqOff.RingMask);
        _sqEntries = *(uint*)(sq + p.SqOff.RingEntries);
        _sqes = (IoUringSqe*)sqeRegion;

        // Identity mapping of the SQ index array, set once: SQE slot i is always published as array[i] = i.
        uint* sqArray = (uint*)(sq + p.SqOff.Array);
        for (uint i = 0; i < _sqEntries; i++)
        {
            sqArray[i] = i;
        }

        _sqLocalTail = Volatile.Read(ref *_sqTail);

        byte* cq = (byte*)cqRing;
        _cqHead = (uint*)(cq + p.CqOff.Head);
        _cqTail = (uint*)(cq + p.CqOff.Tail);
        _cqMask = *(uint*)(cq + p.CqOff.RingMask);
        _cqes = (IoUringCqe*)(cq + p.CqOff.Cqes);

        SqEntries = p.SqEntries;
        CqEntries = p.CqEntries;
        Features = p.Features;

        _iov = iov;
        _initialized = true;
    }

    /// <summary>Finalizer: releases the mappings and the ring fd if <see cref="Dispose()"/> was not called.</summary>
    ~UringRing()
    {
        Dispose(disposing: false);
    }

    /// <summary>Submission queue size granted by the kernel (a power of two, at least the requested entries).</summary>
    internal uint SqEntries { get; }

    /// <summary>Completion queue size granted by the kernel.</summary>
    internal uint CqEntries { get; }

    /// <summary>The <c>IORING_FEAT_*</c> bits the kernel reported.</summary>
    internal uint Features { get; }

    /// <summary>
    /// Probes io_uring and creates a ring with <paramref name="entries"/> submission queue entries.
    /// Never throws for an environment problem: returns false with a human-readable
    /// <paramref name="reason"/> (for example <c>io_uring_setup failed: ENOSYS (38): ...</c>).
    /// </summary>
    /// <param name="entries">Submission queue entries, 2 to <see cref="MaxEntries"/>; the kernel rounds up to a power of two.</param>
    /// <param name="ring">The ring on success; null otherwise.</param>
    /// <param name="reason">Empty on success; why io_uring cannot be used otherwise.</param>
    /// <returns>True when the ring is ready to use.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="entries"/> is outside 2..<see cref="MaxEntries"/>.</exception>
    public static bool TryCreate(uint entries, [NotNullWhen(true)] out UringRing? ring, out string reason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(entries, 2u);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(entries, MaxEntries);
        ring = null;

        if (!OperatingSystem.IsLinux())
        {
            reason = "io_uring requires Linux";
            return false;
        }

        Architecture arch = RuntimeInformation.ProcessArchitecture;
        if (arch is not (Architecture.X64 or Architecture.Arm64) || sizeof(nint) != 8)
        {
            reason = "io_uring engine supports only 64-bit x86_64 and aarch64 processes, not " + arch.ToString();
            return false;
        }

        try
        {
            return TryCreateCore(entries, out ring, out reason);
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            reason = "libc entry points for io_uring are unavailable: " + ex.Message;
            return false;
        }
    }

    private static bool TryCreateCore(uint entries, [NotNullWhen(true)] out UringRing? ring, out string reason)
    {
        ring = null;
        IoUringParams p = default;
        p.Flags = UringInterop.SetupClamp;
        long fdResult = UringInterop.Syscall(UringInterop.SysIoUringSetup, entries, (long)&p, 0, 0, 0, 0);
        int errno = fdResult < 0 ? Marshal.GetLastPInvokeError() : 0;
        if (fdResult < 0 && errno == UringInterop.EINVAL)
        {
            // Very old kernels reject IORING_SETUP_CLAMP; retry without flags.
            p = default;
            fdResult = UringInterop.Syscall(UringInterop.SysIoUringSetup, entries, (long)&p, 0, 0, 0, 0);
            errno = fdResult < 0 ? Marshal.GetLastPInvokeError() : 0;
        }

        if (fdResult < 0)
        {
            reason = DescribeSetupFailure(errno, entries);
            return false;
        }

        int ringFd = (int)fdResult;
        nint sqRing = UringInterop.MapFailed;
        nint cqRing = UringInterop.MapFailed;
        nint sqes = UringInterop.MapFailed;
        nuint sqRingSize = 0;
        nuint cqRingSize = 0;
        nuint sqeSize = 0;
        bool singleMmap = (p.Features & UringInterop.FeatSingleMmap) != 0;
        IoVec* iov = null;
        try
        {
            if (!ProbeOpcodes(ringFd, out reason))
            {
                return false;
            }

            sqRingSize = p.SqOff.Array + (p.SqEntries * (nuint)sizeof(uint));
            cqRingSize = p.CqOff.Cqes + (p.CqEntries * (nuint)sizeof(IoUringCqe));
            sqeSize = p.SqEntries * (nuint)sizeof(IoUringSqe);
            if (singleMmap)
            {
                sqRingSize = Math.Max(sqRingSize, cqRingSize);
                cqRingSize = 0;
            }

            const int prot = UringInterop.ProtRead | UringInterop.ProtWrite;
            const int flags = UringInterop.MapShared | UringInterop.MapPopulate;
            sqRing = UringInterop.Mmap(0, sqRingSize, prot, flags, ringFd, UringInterop.OffSqRing);
            if (sqRing == UringInterop.MapFailed)
            {
                reason = "mmap of the io_uring SQ ring failed: " + UringInterop.FormatErrno(Marshal.GetLastPInvokeError());
                return false;
            }

            if (singleMmap)
            {
                cqRing = sqRing;
            }
            else
            {
                cqRing = UringInterop.Mmap(0, cqRingSize, prot, flags, ringFd, UringInterop.OffCqRing);
                if (cqRing == UringInterop.MapFailed)
                {
                    reason = "mmap of the io_uring CQ ring failed: " + UringInterop.FormatErrno(Marshal.GetLastPInvokeError());
                    return false;
                }
            }

            sqes = UringInterop.Mmap(0, sqeSize, prot, flags, ringFd, UringInterop.OffSqes);
            if (sqes == UringInterop.MapFailed)
            {
                reason = "mmap of the io_uring SQE array failed: " + UringInterop.FormatErrno(Marshal.GetLastPInvokeError());
                return false;
            }

            iov = (IoVec*)NativeMemory.AlignedAlloc((nuint)(MaxGatherBuffers * sizeof(IoVec)), 64);
            ring = new UringRing(ringFd, p, sqRing, sqRingSize, cqRing, cqRingSize, sqes, sqeSize, iov);
            reason = string.Empty;
            return true;
        }
        finally
        {
            if (ring is null)
            {
                NativeMemory.AlignedFree(iov);
                if (sqes != UringInterop.MapFailed)
                {
                    _ = UringInterop.Munmap(sqes, sqeSize);
                }

                if (!singleMmap && cqRing != UringInterop.MapFailed)
                {
                    _ = UringInterop.Munmap(cqRing, cqRingSize);
                }

                if (sqRing != UringInterop.MapFailed)
                {
                    _ = UringInterop.Munmap(sqRing, sqRingSize);
                }

                _ = UringInterop.Close(ringFd);
            }
        }
    }

    private static bool ProbeOpcodes(int ringFd, out string reason)
    {
        const int size = UringInterop.ProbeHeaderSize + (UringInterop.ProbeOpCount * UringInterop.ProbeOpSize);
        byte* probe = stackalloc byte[size];
        new Span<byte>(probe, size).Clear();
        long r = UringInterop.Syscall(UringInterop.SysIoUringRegister, ringFd, UringInterop.RegisterProbe, (long)probe, UringInterop.ProbeOpCount, 0, 0);
        if (r < 0)
        {
            reason = "io_uring_register(IORING_REGISTER_PROBE) failed: " + UringInterop.FormatErrno(Marshal.GetLastPInvokeError())
                + " (kernel older than 5.6?)";
            return false;
        }

        byte lastOp = probe[0];
        ReadOnlySpan<byte> required = [UringInterop.OpWritev, UringInterop.OpFsync, UringInterop.OpWrite];
        foreach (byte op in required)
        {
            ushort opFlags = op <= lastOp ? *(ushort*)(probe + UringInterop.ProbeHeaderSize + (op * UringInterop.ProbeOpSize) + 2) : (ushort)0;
            if ((opFlags & UringInterop.ProbeOpSupported) == 0)
            {
                reason = string.Create(CultureInfo.InvariantCulture, $"io_uring opcode {op} (WRITEV=2 / FSYNC=3 / WRITE=23) is not supported by this kernel");
                return false;
            }
        }

        reason = string.Empty;
        return true;
    }

    internal static string DescribeSetupFailure(int errno, uint entries)
    {
        string prefix = "io_uring_setup failed: " + UringInterop.FormatErrno(errno);
        switch (errno)
        {
            case UringInterop.ENOSYS:
                return prefix + ": the kernel has no io_uring (CONFIG_IO_URING=n or older than 5.1) or a sandbox filters the syscall";
            case UringInterop.EPERM:
                string sysctl = ReadIoUringDisabledSysctl();
                return sysctl switch
                {
                    "2" => prefix + ": io_uring disabled by sysctl kernel.io_uring_disabled=2",
                    "1" => prefix + ": io_uring restricted by sysctl kernel.io_uring_disabled=1 (only CAP_SYS_ADMIN or members of kernel.io_uring_group may use it)",
                    _ => prefix + ": blocked by a seccomp filter or security policy (container runtimes' default seccomp profiles deny io_uring)",
                };
            case UringInterop.ENOMEM:
                return prefix + ": could not allocate ring memory (RLIMIT_MEMLOCK on kernels before 5.12?)";
            case UringInterop.EINVAL:
                return prefix + string.Create(CultureInfo.InvariantCulture, $": kernel rejected the parameters (entries={entries})");
            default:
                return prefix;
        }
    }

    private static string ReadIoUringDisabledSysctl()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/io_uring_disabled").Trim();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    /// <summary>
    /// Writes <paramref name="data"/> at <paramref name="offset"/>; when <paramref name="sync"/> is true an
    /// <c>IORING_OP_FSYNC</c> with <c>IORING_FSYNC_DATASYNC</c> is linked after the write (IOSQE_IO_LINK),
    /// both are submitted with one <c>io_uring_enter</c>, and the call returns once both completed.
    /// Short writes are resubmitted from where they stopped; EINTR / EAGAIN are retried.
    /// </summary>
    /// <param name="file">Destination file, opened for writing.</param>
    /// <param name="offset">File offset of the first byte.</param>
    /// <param name="data">Bytes to write; pinned for the duration of the call.</param>
    /// <param name="sync">Also make the data durable (fdatasync) before returning.</param>
    /// <exception cref="IOException">The write or the fdatasync failed; the message names the errno.</exception>
    /// <exception cref="ObjectDisposedException">The ring or <paramref name="file"/> has been disposed.</exception>
    /// <exception cref="InvalidOperationException">An earlier io_uring_enter failure left the ring unusable.</exception>
    public void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data, bool sync)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, long.MaxValue - data.Length);

        lock (_gate)
        {
            ThrowIfUnusable();
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                int fd = (int)file.DangerousGetHandle();
                fixed (byte* p = data)
                {
                    WriteCore(fd, offset, p, data.Length, sync);
                }
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }
    }

    /// <summary>
    /// Writes <paramref name="buffers"/> back to back starting at <paramref name="offset"/> with one
    /// <c>IORING_OP_WRITEV</c>, optionally followed by a linked fdatasync, in one <c>io_uring_enter</c>.
    /// Short writes are resubmitted from where they stopped; EINTR / EAGAIN are retried.
    /// </summary>
    /// <param name="file">Destination file, opened for writing.</param>
    /// <param name="offset">File offset of the first byte of the first buffer.</param>
    /// <param name="buffers">At most <see cref="MaxGatherBuffers"/> buffers; empty ones are skipped. Each is pinned for the duration of the call.</param>
    /// <param name="sync">Also make the data durable (fdatasync) before returning.</param>
    /// <exception cref="ArgumentException">More than <see cref="MaxGatherBuffers"/> buffers.</exception>
    /// <exception cref="IOException">The write or the fdatasync failed; the message names the errno.</exception>
    /// <exception cref="ObjectDisposedException">The ring or <paramref name="file"/> has been disposed.</exception>
    /// <exception cref="InvalidOperationException">An earlier io_uring_enter failure left the ring unusable.</exception>
    public void WriteGather(SafeFileHandle file, long offset, ReadOnlySpan<ReadOnlyMemory<byte>> buffers, bool sync)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        if (buffers.Length > MaxGatherBuffers)
        {
            throw new ArgumentException(
                string.Create(CultureInfo.InvariantCulture, $"At most {MaxGatherBuffers} buffers per gather write; got {buffers.Length}."),
                nameof(buffers));
        }

        lock (_gate)
        {
            ThrowIfUnusable();
            bool added = false;
            int pinned = 0;
            try
            {
                long total = 0;
                for (int i = 0; i < buffers.Length; i++)
                {
                    ReadOnlyMemory<byte> buffer = buffers[i];
                    if (buffer.IsEmpty)
                    {
                        continue;
                    }

                    _pins[pinned] = buffer.Pin();
                    _iov[pinned].Base = (nint)_pins[pinned].Pointer;
                    _iov[pinned].Length = (nuint)buffer.Length;
                    pinned++;
                    total += buffer.Length;
                }

                ArgumentOutOfRangeException.ThrowIfGreaterThan(offset, long.MaxValue - total);
                file.DangerousAddRef(ref added);
                int fd = (int)file.DangerousGetHandle();
                GatherCore(fd, offset, pinned, total, sync);
            }
            finally
            {
                for (int i = 0; i < pinned; i++)
                {
                    _pins[i].Dispose();
                    _pins[i] = default;
                }

                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Makes the file's written data durable: <c>IORING_OP_FSYNC</c> with <c>IORING_FSYNC_DATASYNC</c>, alone.</summary>
    /// <param name="file">The file to flush.</param>
    /// <exception cref="IOException">The fdatasync failed; the message names the errno.</exception>
    /// <exception cref="ObjectDisposedException">The ring or <paramref name="file"/> has been disposed.</exception>
    /// <exception cref="InvalidOperationException">An earlier io_uring_enter failure left the ring unusable.</exception>
    public void DataSync(SafeFileHandle file)
    {
        ArgumentNullException.ThrowIfNull(file);
        lock (_gate)
        {
            ThrowIfUnusable();
            bool added = false;
            try
            {
                file.DangerousAddRef(ref added);
                DataSyncCore((int)file.DangerousGetHandle());
            }
            finally
            {
                if (added)
                {
                    file.DangerousRelease();
                }
            }
        }
    }

    /// <summary>Unmaps the rings and closes the ring fd. Safe to call more than once.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            Dispose(disposing: true);
        }

        GC.SuppressFinalize(this);
    }

    private void Dispose(bool disposing)
    {
        _ = disposing; // Only unmanaged state to release; the lock is taken by the public Dispose.
        if (_disposed || !_initialized)
        {
            return;
        }

        _disposed = true;
        _ = UringInterop.Munmap(_sqeRegion, _sqeRegionSize);
        if (_cqRingSize != 0)
        {
            _ = UringInterop.Munmap(_cqRing, _cqRingSize);
        }

        _ = UringInterop.Munmap(_sqRing, _sqRingSize);
        _ = UringInterop.Close(_ringFd);
        NativeMemory.AlignedFree(_iov);
    }

    private void ThrowIfUnusable()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_faultReason is not null)
        {
            throw new InvalidOperationException("The io_uring instance is unusable after an earlier failure: " + _faultReason);
        }
    }

    private void WriteCore(int fd, long offset, byte* data, int length, bool sync)
    {
        if (length == 0)
        {
            if (sync)
            {
                DataSyncCore(fd);
            }

            return;
        }

        nint address = (nint)data;
        uint remaining = (uint)length;
        int retries = 0;
        while (remaining > 0)
        {
            PrepareSqe(UringInterop.OpWrite, fd, address, remaining, offset, sync ? UringInterop.SqeIoLink : (byte)0, 0, WriteSlot);
            if (sync)
            {
                PrepareSqe(UringInterop.OpFsync, fd, 0, 0, 0, 0, UringInterop.FsyncDatasync, SyncSlot);
            }

            SubmitAndWait(sync ? 2u : 1u);
            uint written = CheckTransfer(_results[WriteSlot], remaining, ref retries, offset);
            remaining -= written;
            address += (nint)written;
            offset += written;
            if (sync)
            {
                HandleLinkedSync(fd, remaining == 0);
            }
        }
    }

    private void GatherCore(int fd, long offset, int count, long total, bool sync)
    {
        if (total == 0)
        {
            if (sync)
            {
                DataSyncCore(fd);
            }

            return;
        }

        int first = 0;
        long remaining = total;
        int retries = 0;
        while (remaining > 0)
        {
            PrepareSqe(UringInterop.OpWritev, fd, (nint)(_iov + first), (uint)(count - first), offset, sync ? UringInterop.SqeIoLink : (byte)0, 0, WriteSlot);
            if (sync)
            {
                PrepareSqe(UringInterop.OpFsync, fd, 0, 0, 0, 0, UringInterop.FsyncDatasync, SyncSlot);
            }

            SubmitAndWait(sync ? 2u : 1u);
            uint requested = remaining > int.MaxValue ? int.MaxValue : (uint)remaining;
            uint written = CheckTransfer(_results[WriteSlot], requested, ref retries, offset);
            remaining -= written;
            offset += written;

            // Skip the iovecs the kernel consumed and trim the first partially written one in place.
            nuint advance = written;
            while (advance > 0)
            {
                IoVec* v = _iov + first;
                if (advance >= v->Length)
                {
                    advance -= v->Length;
                    first++;
                }
                else
                {
                    v->Base += (nint)advance;
                    v->Length -= advance;
                    advance = 0;
                }
            }

            if (sync)
            {
                HandleLinkedSync(fd, remaining == 0);
            }
        }
    }

    private void DataSyncCore(int fd)
    {
        int retries = 0;
        while (true)
        {
            PrepareSqe(UringInterop.OpFsync, fd, 0, 0, 0, 0, UringInterop.FsyncDatasync, SyncSlot);
            SubmitAndWait(1);
            int res = _results[SyncSlot];
            if (res == 0)
            {
                return;
            }

            if (res is -UringInterop.EINTR or -UringInterop.EAGAIN)
            {
                CountTransient(ref retries, "fdatasync");
                continue;
            }

            throw ErrnoException("fdatasync", -res, -1);
        }
    }

    /// <summary>Interprets the completion of a linked fdatasync that followed a write round.</summary>
    private void HandleLinkedSync(int fd, bool writeComplete)
    {
        int res = _results[SyncSlot];
        if (res == 0)
        {
            return;
        }

        // -ECANCELED: the link was broken (short, interrupted or failed write). Transient errors: retry.
        // Either way another fdatasync follows: linked to the next write round, or standalone here.
        if (res is -UringInterop.ECANCELED or -UringInterop.EINTR or -UringInterop.EAGAIN)
        {
            if (writeComplete)
            {
                DataSyncCore(fd);
            }

            return;
        }

        // A real fdatasync error (EIO, ENOSPC, ...) must not be papered over by a later fdatasync that
        // returns 0 after the kernel has already dropped the dirty pages.
        throw ErrnoException("fdatasync", -res, -1);
    }

    /// <summary>Returns the bytes a write completion transferred, 0 for a transient result to retry, or throws.</summary>
    private static uint CheckTransfer(int res, uint requested, ref int retries, long offset)
    {
        if (res > 0)
        {
            if ((uint)res > requested)
            {
                throw new IOException(string.Create(CultureInfo.InvariantCulture, $"io_uring write at offset {offset} reported {res} bytes for a {requested}-byte request."));
            }

            retries = 0;
            return (uint)res;
        }

        if (res is 0 or -UringInterop.EINTR or -UringInterop.EAGAIN)
        {
            CountTransient(ref retries, "write");
            return 0;
        }

        throw ErrnoException("write", -res, offset);
    }

    private static void CountTransient(ref int retries, string operation)
    {
        if (++retries > MaxTransientRetries)
        {
            throw new IOException(string.Create(CultureInfo.InvariantCulture, $"io_uring {operation} made no progress after {MaxTransientRetries} attempts (EINTR/EAGAIN/zero-length results)."));
        }

        if (retries > 16)
        {
            _ = Thread.Yield();
        }
    }

    private static IOException ErrnoException(string operation, int errno, long offset)
    {
        string where = offset >= 0 ? string.Create(CultureInfo.InvariantCulture, $" at offset {offset}") : string.Empty;
        return new IOException($"io_uring {operation}{where} failed: {UringInterop.FormatErrno(errno)}", errno);
    }

    private void PrepareSqe(byte opcode, int fd, nint address, uint length, long offset, byte flags, uint opFlags, int slot)
    {
        if (_sqLocalTail - Volatile.Read(ref *_sqHead) >= _sqEntries)
        {
            throw new InvalidOperationException("io_uring submission queue is full.");
        }

        IoUringSqe* sqe = _sqes + (_sqLocalTail & _sqMask);
        *sqe = default;
        sqe->Opcode = opcode;
        sqe->Flags = flags;
        sqe->Fd = fd;
        sqe->Off = (ulong)offset;
        sqe->Addr = (ulong)address;
        sqe->Len = length;
        sqe->OpFlags = opFlags;
        sqe->UserData = (ulong)slot;
        _results[slot] = NoResult;
        _sqLocalTail++;
    }

    /// <summary>
    /// Publishes the prepared SQEs, submits them and waits for <paramref name="count"/> completions with as
    /// few <c>io_uring_enter</c> calls as possible (one, normally). Completions land in <see cref="_results"/>.
    /// </summary>
    private void SubmitAndWait(uint count)
    {
        // Release: SQE contents become visible to the kernel before the new tail.
        Volatile.Write(ref *_sqTail, _sqLocalTail);

        uint toSubmit = count;
        uint pending = count;
        int retries = 0;
        while (true)
        {
            uint reaped = ReapCompletions();
            pending = reaped >= pending ? 0 : pending - reaped;
            if (pending == 0)
            {
                return;
            }

            long r = UringInterop.Syscall(UringInterop.SysIoUringEnter, _ringFd, toSubmit, pending, UringInterop.EnterGetEvents, 0, 0);
            if (r >= 0)
            {
                toSubmit -= (uint)Math.Min(r, toSubmit);
                continue;
            }

            int errno = Marshal.GetLastPInvokeError();
            if (errno == UringInterop.EINTR)
            {
                continue;
            }

            if ((errno is UringInterop.EAGAIN or UringInterop.EBUSY) && ++retries <= MaxTransientRetries)
            {
                _ = Thread.Yield();
                continue;
            }

            Fault(errno, pending - toSubmit);
        }
    }

    /// <summary>
    /// io_uring_enter failed in a way that cannot be retried. Requests the kernel already consumed may still
    /// reference pinned caller memory, so drain their completions before letting the caller unpin, then mark
    /// the ring unusable and throw.
    /// </summary>
    [DoesNotReturn]
    private void Fault(int errno, uint inFlight)
    {
        string reason = "io_uring_enter failed: " + UringInterop.FormatErrno(errno);
        _faultReason = reason;
        while (inFlight > 0)
        {
            uint reaped = ReapCompletions();
            inFlight = reaped >= inFlight ? 0 : inFlight - reaped;
            if (inFlight > 0)
            {
                Thread.Sleep(1);
            }
        }

        throw new IOException(reason, errno);
    }

    private uint ReapCompletions()
    {
        uint head = *_cqHead; // Only this thread (under the lock) writes the CQ head.
        uint tail = Volatile.Read(ref *_cqTail); // Acquire: CQE contents are visible after the tail.
        uint n = 0;
        while (head != tail)
        {
            IoUringCqe* cqe = _cqes + (head & _cqMask);
            ulong slot = cqe->UserData;
            if (slot < (ulong)_results.Length)
            {
                _results[(int)slot] = cqe->Res;
            }

            head++;
            n++;
        }

        if (n != 0)
        {
            Volatile.Write(ref *_cqHead, head); // Release: the kernel may reuse the slots.
        }

        return n;
    }
}
