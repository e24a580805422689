using System.Buffers.Binary;
using WalrusGossip.Raft;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Node.Snapshots;

/// <summary>
/// The byte form of a <see cref="RaftSnapshot"/> in transfer: what the leader cuts into
/// <see cref="SnapshotChunk"/>s and the follower reassembles, verifies and decodes before installing it.
/// </summary>
/// <remarks>
/// Layout, little-endian: u32 magic "WSN1", u32 version 1, u64 index, u64 term, u32 configuration length, the
/// configuration (<see cref="ClusterConfig.Encode"/>), then the state-machine bytes to the end. The CRC-32C of the
/// whole is carried beside it in every chunk, not inside it.
/// </remarks>
internal static class SnapshotCodec
{
    private const uint Magic = 0x314E_5357; // "WSN1"
    private const uint Version = 1;
    private const int HeaderSize = 28;

    /// <summary>Encodes a snapshot.</summary>
    /// <param name="snapshot">A non-empty snapshot.</param>
    /// <returns>The encoded bytes and their CRC-32C.</returns>
    public static (byte[] Bytes, uint Crc) Encode(RaftSnapshot snapshot)
    {
        var config = snapshot.Metadata.Config.Encode();
        var bytes = new byte[HeaderSize + config.Length + snapshot.Data.Length];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteUInt32LittleEndian(span, Magic);
        BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Version);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], snapshot.Metadata.Index);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], snapshot.Metadata.Term);
        BinaryPrimitives.WriteUInt32LittleEndian(span[24..], (uint)config.Length);
        config.CopyTo(span[HeaderSize..]);
        snapshot.Data.Span.CopyTo(span[(HeaderSize + config.Length)..]);
        return (bytes, Crc32C.Compute(bytes));
    }

    /// <summary>Decodes bytes written by <see cref="Encode"/>; never throws.</summary>
    /// <param name="bytes">The reassembled bytes; the snapshot's data refers to them (no copy).</param>
    /// <param name="snapshot">The snapshot, when valid.</param>
    /// <param name="error">Why the bytes were refused, when not valid.</param>
    /// <returns>True when the bytes hold a snapshot with a valid configuration and a non-zero index and term.</returns>
    public static bool TryDecode(ReadOnlyMemory<byte> bytes, out RaftSnapshot? snapshot, out string error)
    {
        snapshot = null;
        var span = bytes.Span;
        if (span.Length < HeaderSize || BinaryPrimitives.ReadUInt32LittleEndian(span) != Magic)
        {
            error = "not a snapshot (short or bad magic)";
            return false;
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(span[4..]) != Version)
        {
            error = $"unknown snapshot version {BinaryPrimitives.ReadUInt32LittleEndian(span[4..])}";
            return false;
        }

        var index = BinaryPrimitives.ReadUInt64LittleEndian(span[8..]);
        var term = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]);
        var configLength = BinaryPrimitives.ReadUInt32LittleEndian(span[24..]);
        if (index == 0 || term == 0 || configLength > (uint)(span.Length - HeaderSize)
            || !ClusterConfig.TryDecode(span.Slice(HeaderSize, (int)configLength), out var config) || config is null)
        {
            error = $"snapshot header is invalid (index {index}, term {term}, configuration of {configLength} bytes)";
            return false;
        }

        snapshot = new RaftSnapshot(new SnapshotMetadata(index, term, config), bytes[(HeaderSize + (int)configLength)..]);
        error = string.Empty;
        return true;
    }
}
