using System.Buffers.Binary;

namespace WalrusGossip.Storage;

/// <summary>
/// The <c>raft/hardstate</c> file: 32 bytes (u32 magic "HST1", u32 CRC-32C of bytes 8..31, u64 term, u64 vote,
/// u64 commit, little-endian), replaced atomically (tmp + fsync + rename + directory fsync) on every save.
/// </summary>
public sealed class HardStateFile
{
    private const uint Magic = 0x3154_5348; // "HST1"
    private const int Size = 32;
    private readonly IStorageDevice _device;
    private readonly string _path;

    /// <summary>Binds to <paramref name="path"/>; nothing is read until <see cref="Load"/>.</summary>
    /// <param name="device">The device holding the file.</param>
    /// <param name="path">The hard-state file path.</param>
    public HardStateFile(IStorageDevice device, string path)
    {
        _device = device;
        _path = path;
    }

    /// <summary>Reads the hard state; a missing file means first boot and yields (0, 0, 0).</summary>
    /// <returns>The stored hard state.</returns>
    /// <exception cref="LogCorruptionException">The file is short, has the wrong magic, or fails its CRC.</exception>
    public HardState Load()
    {
        if (!_device.FileExists(_path))
        {
            return default;
        }

        var bytes = AtomicFile.ReadAll(_device, _path);
        if (bytes.Length != Size || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != Magic ||
            Crc32C.Compute(bytes.AsSpan(8)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)))
        {
            throw new LogCorruptionException(_path, 0, 0, $"hard state file is damaged ({bytes.Length} bytes, bad magic or CRC)");
        }

        return new HardState(
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8)),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(16)),
            BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(24)));
    }

    /// <summary>Durably replaces the stored hard state; returns after the new content and the rename are fsynced.</summary>
    /// <param name="state">The state to store.</param>
    public void Save(HardState state)
    {
        Span<byte> bytes = stackalloc byte[Size];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, Magic);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], state.Term);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[16..], state.Vote);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[24..], state.Commit);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Crc32C.Compute(bytes[8..]));
        AtomicFile.Replace(_device, _path, bytes);
    }
}
