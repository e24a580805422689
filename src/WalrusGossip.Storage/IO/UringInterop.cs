using System.Runtime.InteropServices;

namespace WalrusGossip.Storage.IO;

// Kernel ABI for io_uring (include/uapi/linux/io_uring.h) and the few libc entry points the ring needs.
// Only 64-bit Linux (x86_64, aarch64) is supported: the syscall numbers below come from the generic
// table that both architectures share, and pointers / size_t / off_t are 64 bits wide.

/// <summary><c>struct io_sqring_offsets</c> (40 bytes): offsets of the submission ring fields inside the SQ ring mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoSqringOffsets
{
    internal uint Head;
    internal uint Tail;
    internal uint RingMask;
    internal uint RingEntries;
    internal uint Flags;
    internal uint Dropped;
    internal uint Array;
    internal uint Resv1;
    internal ulong UserAddr;
}

/// <summary><c>struct io_cqring_offsets</c> (40 bytes): offsets of the completion ring fields inside the CQ ring mapping.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoCqringOffsets
{
    internal uint Head;
    internal uint Tail;
    internal uint RingMask;
    internal uint RingEntries;
    internal uint Overflow;
    internal uint Cqes;
    internal uint Flags;
    internal uint Resv1;
    internal ulong UserAddr;
}

/// <summary><c>struct io_uring_params</c> (120 bytes): in/out argument of <c>io_uring_setup</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringParams
{
    internal uint SqEntries;
    internal uint CqEntries;
    internal uint Flags;
    internal uint SqThreadCpu;
    internal uint SqThreadIdle;
    internal uint Features;
    internal uint WqFd;
    internal uint Resv0;
    internal uint Resv1;
    internal uint Resv2;
    internal IoSqringOffsets SqOff;
    internal IoCqringOffsets CqOff;
}

/// <summary><c>struct io_uring_sqe</c> (64 bytes): one submission queue entry, with the unions flattened to the members used here.</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct IoUringSqe
{
    [FieldOffset(0)] internal byte Opcode;
    [FieldOffset(1)] internal byte Flags;
    [FieldOffset(2)] internal ushort IoPrio;
    [FieldOffset(4)] internal int Fd;
    [FieldOffset(8)] internal ulong Off;
    [FieldOffset(16)] internal ulong Addr;
    [FieldOffset(24)] internal uint Len;
    /// <summary>Union of rw_flags / fsync_flags / ...</summary>
    [FieldOffset(28)] internal uint OpFlags;
    [FieldOffset(32)] internal ulong UserData;
    [FieldOffset(40)] internal ushort BufIndex;
    [FieldOffset(42)] internal ushort Personality;
    [FieldOffset(44)] internal int SpliceFdIn;
    [FieldOffset(48)] internal ulong Addr3;
    [FieldOffset(56)] internal ulong Pad2;
}

/// <summary><c>struct io_uring_cqe</c> (16 bytes; the ring is never set up with IORING_SETUP_CQE32).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoUringCqe
{
    internal ulong UserData;
    internal int Res;
    internal uint Flags;
}

/// <summary><c>struct iovec</c> (16 bytes on 64-bit).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct IoVec
{
    internal nint Base;
    internal nuint Length;
}

/// <summary>Constants, libc imports and errno names used by <see cref="UringRing"/>.</summary>
internal static partial class UringInterop
{
    // Syscall numbers: identical on x86_64 and aarch64 (io_uring was added to the common table in 5.1).
    internal const long SysIoUringSetup = 425;
    internal const long SysIoUringEnter = 426;
    internal const long SysIoUringRegister = 427;

    // Opcodes.
    internal const byte OpWritev = 2;
    internal const byte OpFsync = 3;
    internal const byte OpWrite = 23;

    // SQE flags.
    internal const byte SqeIoLink = 1 << 2;

    // fsync_flags.
    internal const uint FsyncDatasync = 1;

    // io_uring_setup flags.
    internal const uint SetupClamp = 1 << 4;

    // io_uring_params.features.
    internal const uint FeatSingleMmap = 1 << 0;

    // io_uring_enter flags.
    internal const uint EnterGetEvents = 1 << 0;

    // io_uring_register opcodes and probe layout.
    internal const uint RegisterProbe = 8;
    internal const int ProbeOpCount = 256;
    internal const int ProbeHeaderSize = 16;
    internal const int ProbeOpSize = 8;
    internal const ushort ProbeOpSupported = 1;

    // mmap offsets of the three ring regions.
    internal const long OffSqRing = 0;
    internal const long OffCqRing = 0x8000000;
    internal const long OffSqes = 0x10000000;

    // mmap protection / flags (same values on x86_64 and aarch64).
    internal const int ProtRead = 0x1;
    internal const int ProtWrite = 0x2;
    internal const int MapShared = 0x01;
    internal const int MapPopulate = 0x8000;
    internal static readonly nint MapFailed = -1;

    // errno values used for control flow (asm-generic numbering, shared by x86_64 and aarch64).
    internal const int EPERM = 1;
    internal const int EINTR = 4;
    internal const int EAGAIN = 11;
    internal const int ENOMEM = 12;
    internal const int EBUSY = 16;
    internal const int EINVAL = 22;
    internal const int ENOSYS = 38;
    internal const int EOPNOTSUPP = 95;
    internal const int ECANCELED = 125;

    private const string LibC = "libc";

    /// <summary><c>long syscall(long number, ...)</c>; every argument is passed as a 64-bit register value,
    /// which is how glibc/musl read the variadic arguments on x86_64 and aarch64 Linux.</summary>
    [LibraryImport(LibC, EntryPoint = "syscall", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static partial long Syscall(long number, long arg1, long arg2, long arg3, long arg4, long arg5, long arg6);

    [LibraryImport(LibC, EntryPoint = "mmap", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static partial nint Mmap(nint address, nuint length, int protection, int flags, int fd, long offset);

    [LibraryImport(LibC, EntryPoint = "munmap", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static partial int Munmap(nint address, nuint length);

    [LibraryImport(LibC, EntryPoint = "close", SetLastError = true)]
    [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
    internal static partial int Close(int fd);

    /// <summary>Formats an errno as <c>NAME (number)</c>, e.g. <c>EBADF (9)</c>.</summary>
    internal static string FormatErrno(int errno)
    {
        string? name = ErrnoName(errno);
        return name is null
            ? FormattableString.Invariant($"errno {errno}")
            : FormattableString.Invariant($"{name} ({errno})");
    }

    /// <summary>Symbolic name of a Linux errno (asm-generic numbering), or null when unknown.</summary>
    internal static string? ErrnoName(int errno) => errno switch
    {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        6 => "ENXIO",
        7 => "E2BIG",
        8 => "ENOEXEC",
        9 => "EBADF",
        10 => "ECHILD",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        19 => "ENODEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        25 => "ENOTTY",
        26 => "ETXTBSY",
        27 => "EFBIG",
        28 => "ENOSPC",
        29 => "ESPIPE",
        30 => "EROFS",
        31 => "EMLINK",
        32 => "EPIPE",
        34 => "ERANGE",
        38 => "ENOSYS",
        61 => "ENODATA",
        62 => "ETIME",
        75 => "EOVERFLOW",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        116 => "ESTALE",
        117 => "EUCLEAN",
        121 => "EREMOTEIO",
        122 => "EDQUOT",
        125 => "ECANCELED",
        _ => null,
    };
}
