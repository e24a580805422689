using WalrusGossip.Node.Snapshots;
using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests;

/// <summary>The chunked InstallSnapshot transfer's two ends, driven message by message.</summary>
public sealed class SnapshotTransferTests
{
    private static readonly SnapshotTransferOptions Options = new(ChunkBytes: 100, WindowBytes: 300, ChunkTimeout: TimeSpan.FromSeconds(1), MaxAttempts: 2, MaxSnapshotBytes: 1 << 20, AbandonAfter: TimeSpan.FromSeconds(30));

    private static RaftSnapshot Sample(int dataBytes) =>
        new(new SnapshotMetadata(500, 4, ClusterConfig.Create([1, 2, 3])), Enumerable.Range(0, dataBytes).Select(i => (byte)(i * 7)).ToArray());

    [Fact]
    public void The_encoding_round_trips_and_refuses_garbage()
    {
        var snapshot = Sample(1000);
        var (bytes, _) = SnapshotCodec.Encode(snapshot);

        Assert.True(SnapshotCodec.TryDecode(bytes, out var decoded, out _));
        Assert.Equal((500UL, 4UL), (decoded!.Metadata.Index, decoded.Metadata.Term));
        Assert.Equal([1UL, 2, 3], decoded.Metadata.Config.Voters);
        Assert.Equal(snapshot.Data.ToArray(), decoded.Data.ToArray());

        Assert.False(SnapshotCodec.TryDecode(bytes.AsMemory(0, 10), out _, out var shortError));
        Assert.Contains("short", shortError);
        var badVersion = (byte[])bytes.Clone();
        badVersion[4] = 9;
        Assert.False(SnapshotCodec.TryDecode(badVersion, out _, out var versionError));
        Assert.Contains("version", versionError);
        var badConfigLength = (byte[])bytes.Clone();
        badConfigLength[27] = 0x7F;
        Assert.False(SnapshotCodec.TryDecode(badConfigLength, out _, out _));
    }

    [Fact]
    public void A_transfer_with_losses_and_a_restart_completes_byte_identical_and_resumes_where_it_stopped()
    {
        var snapshot = Sample(2000);
        var (bytes, crc) = SnapshotCodec.Encode(snapshot);
        var receiver = new SnapshotReceiver(Options);
        var now = TimeSpan.Zero;
        var sender = new SnapshotSender(1, 2, 7, 500, 4, bytes, crc, Options, now);
        var outbox = new List<RaftMessage>();
        sender.Start(outbox);
        var delivered = 0;
        var done = false;
        for (var round = 0; round < 200 && !done; round++)
        {
            var batch = outbox.ToList();
            outbox.Clear();
            foreach (var m in batch)
            {
                Assert.True(m.Chunk!.Data.Length <= Options.ChunkBytes);
                Assert.True(m.Chunk.Offset + (ulong)m.Chunk.Data.Length - sender.Acked <= (ulong)Options.WindowBytes);
                if (m.Chunk.Data.Length > 0 && ++delivered % 5 == 0)
                {
                    continue; // lost
                }

                var outcome = receiver.OnChunk(m.Chunk, now, out var position);
                Assert.NotEqual(ChunkOutcome.Rejected, outcome);
                done |= sender.OnResponse(Position(m.Chunk, position), reject: false, now, outbox);
                if (outcome == ChunkOutcome.Complete)
                {
                    Assert.Equal(snapshot.Data.ToArray(), receiver.Completed!.Data.ToArray());
                }
            }

            if (outbox.Count == 0 && !done)
            {
                now += Options.ChunkTimeout;
                Assert.True(sender.OnTick(now, outbox));
            }
        }

        Assert.True(done);

        // A second receiver that already holds part of a snapshot tells a new sender where to resume.
        var partial = new SnapshotReceiver(Options);
        var first = new SnapshotSender(1, 2, 7, 500, 4, bytes, crc, Options, now);
        outbox.Clear();
        first.Start(outbox);
        var probe = outbox[0];
        outbox.Clear();
        first.OnResponse(Position(probe.Chunk!, 0), false, now, outbox);
        foreach (var m in outbox.Take(2))
        {
            partial.OnChunk(m.Chunk!, now, out _);
        }

        Assert.Equal(200UL, partial.Held);
        var second = new SnapshotSender(1, 2, 8, 500, 4, bytes, crc, Options, now);
        outbox.Clear();
        second.Start(outbox);
        partial.OnChunk(outbox[0].Chunk!, now, out var resumeAt);
        outbox.Clear();
        second.OnResponse(Position(probe.Chunk!, resumeAt), false, now, outbox);
        Assert.True(second.Resumed);
        Assert.Equal(200UL, outbox[0].Chunk!.Offset);
    }

    [Fact]
    public void A_sender_without_progress_gives_up_after_its_attempts()
    {
        var (bytes, crc) = SnapshotCodec.Encode(Sample(500));
        var sender = new SnapshotSender(1, 2, 7, 500, 4, bytes, crc, Options, TimeSpan.Zero);
        var outbox = new List<RaftMessage>();
        sender.Start(outbox);
        Assert.True(sender.OnTick(TimeSpan.FromSeconds(1), outbox));
        Assert.True(sender.OnTick(TimeSpan.FromSeconds(2), outbox));
        Assert.False(sender.OnTick(TimeSpan.FromSeconds(3), outbox));
        Assert.Equal(3, outbox.Count); // the probe and two retransmissions of it
    }

    [Fact]
    public void A_corrupted_or_oversized_snapshot_is_rejected_and_nothing_is_completed()
    {
        var (bytes, crc) = SnapshotCodec.Encode(Sample(150));
        var receiver = new SnapshotReceiver(Options);
        var total = (ulong)bytes.Length;
        var tampered = (byte[])bytes.Clone();
        tampered[^1] ^= 0x40;
        Assert.Equal(ChunkOutcome.Progress, receiver.OnChunk(new SnapshotChunk(500, 4, 0, total, crc, tampered.AsMemory(0, 100)), TimeSpan.Zero, out var held));
        Assert.Equal(100UL, held);

        // Out of order: not taken, the position stays.
        Assert.Equal(ChunkOutcome.Progress, receiver.OnChunk(new SnapshotChunk(500, 4, 150, total, crc, tampered.AsMemory(150)), TimeSpan.Zero, out held));
        Assert.Equal(100UL, held);

        Assert.Equal(ChunkOutcome.Rejected, receiver.OnChunk(new SnapshotChunk(500, 4, 100, total, crc, tampered.AsMemory(100)), TimeSpan.Zero, out held));
        Assert.Contains("CRC-32C", receiver.RejectReason);
        Assert.Equal(0UL, held);
        Assert.Null(receiver.Completed);
        Assert.Equal(0UL, receiver.Held);

        var small = new SnapshotReceiver(Options with { MaxSnapshotBytes = 64 });
        Assert.Equal(ChunkOutcome.Rejected, small.OnChunk(new SnapshotChunk(500, 4, 0, total, crc, bytes.AsMemory(0, 50)), TimeSpan.Zero, out _));
        Assert.Contains("MaxSnapshotBytes", small.RejectReason);
    }

    private static SnapshotChunk Position(SnapshotChunk of, ulong position) => of with { Offset = position, Data = ReadOnlyMemory<byte>.Empty };
}
