using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>The few libc calls .NET has no managed equivalent for.</summary>
internal static partial class Native
{
    private const int ODirectory = 0x10000; // O_DIRECTORY on x86_64 and aarch64

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fdatasync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fallocate(int fd, int mode, long offset, long len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(int fd, long offset, long nbytes, uint flags);

    /// <summary>sync_file_range(SYNC_FILE_RANGE_WRITE): start writeback of the range; errors are ignored (it is a hint).</summary>
    public static void StartWriteback(SafeFileHandle handle, long offset, long length)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            _ = sync_file_range((int)handle.DangerousGetHandle(), offset, length, 2);
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int posix_fadvise(int fd, long offset, long len, int advice);

    /// <summary>
    /// Drops a range's clean pages from the page cache: sync_file_range(WAIT_BEFORE | WRITE | WAIT_AFTER) so no page
    /// is dirty or under writeback, then posix_fadvise(POSIX_FADV_DONTNEED). A hint: errors are ignored.
    /// </summary>
    public static void DropCache(SafeFileHandle handle, long offset, long length)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
            var fd = (int)handle.DangerousGetHandle();
            _ = sync_file_range(fd, offset, length, 1 | 2 | 4);
            _ = posix_fadvise(fd, offset, length, 4); // POSIX_FADV_DONTNEED
        }
        catch (ObjectDisposedException)
        {
            // The file was closed meanwhile (its segment deleted): nothing left to drop.
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    /// <summary>An IOException naming the call and the errno, e.g. "fallocate failed: ENOSPC (28)"; HResult is the errno.</summary>
    private static IOException ToException(string what, int errno) =>
        new($"{what} failed: {UringInterop.FormatErrno(errno)}: {Marshal.GetPInvokeErrorMessage(errno)}", errno);

    public static void DataSync(SafeFileHandle handle) => WithFd(handle, static fd => fdatasync(fd), "fdatasync");

    public static void FullSync(SafeFileHandle handle) => WithFd(handle, static fd => fsync(fd), "fsync");

    /// <summary>fallocate(mode 0): reserve blocks and extend the size; returns false when the file system does not support it.</summary>
    public static bool Allocate(SafeFileHandle handle, long length)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            while (true)
            {
                if (fallocate(fd, 0, 0, length) == 0)
                {
                    return true;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == UringInterop.EINTR)
                {
                    continue;
                }

                if (errno is UringInterop.EOPNOTSUPP or UringInterop.ENOSYS)
                {
                    return false;
                }

                throw ToException("fallocate", errno);
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }

    public static void SyncDirectory(string path)
    {
        var fd = open(path, ODirectory);
        if (fd < 0)
        {
            throw ToException($"open directory {path}", Marshal.GetLastPInvokeError());
        }

        try
        {
            if (fsync(fd) != 0)
            {
                throw ToException($"fsync directory {path}", Marshal.GetLastPInvokeError());
            }
        }
        finally
        {
            _ = close(fd);
        }
    }

    private static void WithFd(SafeFileHandle handle, Func<int, int> call, string what)
    {
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            var fd = (int)handle.DangerousGetHandle();
            while (call(fd) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno != UringInterop.EINTR)
                {
                    throw ToException(what, errno);
                }
            }
        }
        finally
        {
            if (added)
            {
                handle.DangerousRelease();
            }
        }
    }
}
