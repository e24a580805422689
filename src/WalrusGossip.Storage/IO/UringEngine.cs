using Microsoft.Win32.SafeHandles;

namespace WalrusGossip.Storage.IO;

/// <summary>The io_uring write engine: a write SQE linked to an fdatasync SQE, submitted with one io_uring_enter.</summary>
internal sealed class UringEngine : IWriteEngine
{
    private readonly Lock _gate = new();
    private readonly UringRing _ring;

    private UringEngine(UringRing ring) => _ring = ring;

    public string Name => "uring";

    public static bool TryCreate(out UringEngine? engine, out string reason)
    {
        if (UringRing.TryCreate(64, out var ring, out reason))
        {
            engine = new UringEngine(ring!);
            return true;
        }

        engine = null;
        return false;
    }

    public void Write(SafeFileHandle file, long offset, ReadOnlySpan<byte> data, bool sync)
    {
        lock (_gate)
        {
            _ring.Write(file, offset, data, sync);
        }
    }

    public void DataSync(SafeFileHandle file)
    {
        lock (_gate)
        {
            _ring.DataSync(file);
        }
    }

    public void Dispose() => _ring.Dispose();
}
