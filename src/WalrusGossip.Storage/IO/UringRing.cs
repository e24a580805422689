using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>Placeholder until the io_uring ring lands: reports io_uring as unavailable so auto falls back to psync.</summary>
internal sealed class UringRing : IDisposable
{
    public static bool TryCreate(uint entries, out UringRing? ring, out string reason)
    {
        _ = entries;
        ring = null;
        reason = "io_uring support is not built into this version";
        return false;
    }

    public void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data, bool sync) => throw new PlatformNotSupportedException();

    public void DataSync(SafeFileHandle file) => throw new PlatformNotSupportedException();

    public void Dispose()
    {
    }
}
