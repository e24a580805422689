using System.Buffers.Binary;

namespace WalrusGossip.Storage.IO;

/// <summary>Replaces small files so that a crash at any instant leaves either the old or the new content.</summary>
internal static class AtomicFile
{
    public const string TempSuffix = ".tmp";

    /// <summary>Writes <paramref name="content"/> to <c>path.tmp</c>, fsyncs it, renames it over <paramref name="path"/> and fsyncs the directory.</summary>
    public static void Replace(IStorageDevice device, string path, ReadOnlySpan<byte> content)
    {
        var temp = path + TempSuffix;
        device.DeleteFile(temp);
        using (var file = device.Open(temp, DeviceOpenMode.CreateNew))
        {
            file.Write(0, content);
            file.SyncAll();
        }

        device.Rename(temp, path);
        device.SyncDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    /// <summary>
    /// Reads a 16-byte value file written by <see cref="ReplaceValue"/>: magic (u32), CRC-32C of the value (u32), the
    /// value (u64), little-endian.
    /// </summary>
    /// <returns>The value, or null when the file does not exist.</returns>
    /// <exception cref="LogCorruptionException">The file has the wrong length, magic or CRC (<paramref name="what"/> names it).</exception>
    public static ulong? ReadValue(IStorageDevice device, string path, uint magic, string what)
    {
        if (!device.FileExists(path))
        {
            return null;
        }

        var bytes = ReadAll(device, path);
        if (bytes.Length != 16 || BinaryPrimitives.ReadUInt32LittleEndian(bytes) != magic ||
            Records.Crc32C.Compute(bytes.AsSpan(8)) != BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)))
        {
            throw new LogCorruptionException(path, 0, 0, $"{what} is damaged (bad length, magic or CRC)");
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8));
    }

    /// <summary>Atomically replaces a 16-byte value file (layout on <see cref="ReadValue"/>).</summary>
    public static void ReplaceValue(IStorageDevice device, string path, uint magic, ulong value)
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, magic);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], value);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], Records.Crc32C.Compute(bytes[8..]));
        Replace(device, path, bytes);
    }

    /// <summary>Reads a whole small file into a new array.</summary>
    public static byte[] ReadAll(IStorageDevice device, string path)
    {
        using var file = device.Open(path, DeviceOpenMode.ReadOnly);
        var length = file.Length;
        if (length > int.MaxValue)
        {
            throw new StorageException($"{path} is {length} bytes, too large to load");
        }

        var buffer = new byte[length];
        var read = file.Read(0, buffer);
        return read == buffer.Length ? buffer : buffer[..read];
    }
}
