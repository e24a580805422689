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
