namespace WalrusGossip.Storage.IO;

/// <summary>How the file-system device writes and syncs segment data (configuration key <c>Storage:IoEngine</c>).</summary>
public enum IoEngine
{
    /// <summary>Probe io_uring when the device is created; fall back to <see cref="Psync"/> with a log line giving the reason.</summary>
    Auto,

    /// <summary>io_uring through raw syscalls: a write SQE linked to an fdatasync SQE, one io_uring_enter per batch.</summary>
    Uring,

    /// <summary>Positional write (pwrite) followed by fdatasync: two syscalls per batch; works everywhere.</summary>
    Psync,
}
