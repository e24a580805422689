using WalrusGossip.Storage.IO;

namespace WalrusGossip.Storage.Tests;

/// <summary>Helpers shared by the storage tests: temporary directories and engine parameterisation.</summary>
internal static class TestStores
{
    /// <summary>Both engines; every storage test runs against each.</summary>
    public static TheoryData<IoEngine> Engines => new() { IoEngine.Psync, IoEngine.Uring };

    public static NodeStorage Open(string dir, IoEngine engine, Action<StorageOptions>? configure = null)
    {
        SkipIfUnavailable(engine);
        var options = new StorageOptions { MaxSegmentBytes = 64 * 1024, MaxEntryBytes = 16 * 1024, IoEngine = engine };
        configure?.Invoke(options);
        return NodeStorage.Open(dir, options);
    }

    public static void SkipIfUnavailable(IoEngine engine)
    {
        if (engine == IoEngine.Uring)
        {
            try
            {
                using var device = FileSystemDevice.Create(IoEngine.Uring);
            }
            catch (StorageConfigurationException e)
            {
                Assert.Skip(e.Message);
            }
        }
    }

    public static byte[] PayloadFor(ulong index, int length)
    {
        var payload = new byte[length];
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)((index * 31) + (ulong)i);
        }

        return payload;
    }

    public static string SegmentPath(string dir, ulong firstIndex) =>
        Path.Combine(dir, "log", Segments.SegmentNames.Segment(firstIndex));

    public static IReadOnlyList<string> SegmentFiles(string dir) =>
        Directory.GetFiles(Path.Combine(dir, "log"), "*.seg").Order(StringComparer.Ordinal).ToList();
}

/// <summary>A temporary directory deleted when the test ends.</summary>
internal sealed class TempDir : IDisposable
{
    public TempDir() => Directory.CreateDirectory(Path);

    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "walrus-test-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
