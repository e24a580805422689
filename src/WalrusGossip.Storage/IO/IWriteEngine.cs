using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>Performs the durable-write half of <see cref="IDeviceFile"/> for the real file system.</summary>
internal interface IWriteEngine : IDisposable
{
    string Name { get; }

    void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data, bool sync);

    void DataSync(SafeFileHandle file);
}

/// <summary>pwrite (<see cref="RandomAccess.Write(SafeFileHandle, ReadOnlySpan{byte}, long)"/>) then fdatasync: two syscalls.</summary>
internal sealed class PsyncEngine : IWriteEngine
{
    public string Name => "psync";

    public void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data, bool sync)
    {
        RandomAccess.Write(file, data, offset);
        if (sync)
        {
            Native.DataSync(file);
        }
    }

    public void DataSync(SafeFileHandle file) => Native.DataSync(file);

    public void Dispose()
    {
    }
}
