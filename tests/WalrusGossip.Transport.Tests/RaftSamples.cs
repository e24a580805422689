using System.Text;
using WalrusGossip.Raft;

namespace WalrusGossip.Transport.Tests;

/// <summary>Raft messages with every field set.</summary>
internal static class RaftSamples
{
    public static RaftMessage AppendWithEverything() => new()
    {
        Type = RaftMessageType.Append,
        From = 1,
        To = 2,
        Term = 7,
        LogTerm = 6,
        Index = 41,
        Entries =
        [
            new LogEntry(42, 6, EntryType.Normal, Encoding.UTF8.GetBytes("first")),
            new LogEntry(43, 7, EntryType.NoOp, ReadOnlyMemory<byte>.Empty),
            new LogEntry(44, 7, EntryType.ConfigChange, ClusterConfig.Create([1, 2, 3], [4]).Encode()),
            new LogEntry(45, 7, EntryType.CheckpointMarker, new byte[] { 0, 255, 1 }),
        ],
        Commit = 40,
        Reject = true,
        RejectHint = 39,
        Transfer = true,
        Snapshot = new RaftSnapshot(new SnapshotMetadata(30, 5, ClusterConfig.Create([1, 2, 3], [4, 5])), new byte[] { 9, 8, 7, 6 }),
        Context = Encoding.UTF8.GetBytes("read-ctx"),
        Chunk = new SnapshotChunk(30, 5, 1024, 4096, 0xDEADBEEF, new byte[] { 1, 2, 3 }),
    };
}
