using BenchmarkDotNet.Attributes;
using WalrusGossip.Storage;
using WalrusGossip.Storage.Records;
using WalrusGossip.Raft;

namespace WalrusGossip.Benchmarks;

/// <summary>Encoding one log record (32-byte header + payload) with its CRC-32C, and verifying it.</summary>
[MemoryDiagnoser]
public class RecordBenchmarks
{
    private byte[] _payload = [];
    private byte[] _record = [];

    [Params(128, 1024, 16384)]
    public int PayloadBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _payload = new byte[PayloadBytes];
        new Random(1).NextBytes(_payload);
        _record = new byte[RecordHeader.Size + PayloadBytes];
        RecordHeader.Encode(_record, 1, 1, EntryType.Normal, 0, _payload);
    }

    [Benchmark]
    public int Encode() => RecordHeader.Encode(_record, 42, 7, EntryType.Normal, 0, _payload);

    [Benchmark]
    public bool Verify() => RecordHeader.Verify(_record);

    [Benchmark]
    public uint Crc32COnly() => Crc32C.Compute(_payload);
}
