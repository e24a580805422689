using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests;

/// <summary>
/// The per-stream index (issue 19): sequences from 1 without gaps per stream, duplicates numbered as their first copy,
/// trimming with retention, lookups bounded by a view's applied index, and the snapshot round trip with typed refusals
/// of damaged input.
/// </summary>
public sealed class StreamIndexTests
{
    private static LogEntry Append(ulong index, string? stream, ulong client = 0, ulong sequence = 0, int bytes = 3) =>
        new(index, 1, EntryType.Normal, AppendCommand.Encode(client, sequence, stream, new byte[bytes]));

    [Fact]
    public void Each_stream_numbers_its_entries_from_one_without_gaps_and_a_duplicate_gets_its_first_copys_sequence()
    {
        var sm = new LogStateMachine();
        Assert.Equal(1ul, sm.Apply(Append(1, "a", client: 7, sequence: 1)).StreamSequence);
        Assert.Equal(1ul, sm.Apply(Append(2, "b")).StreamSequence);
        Assert.Equal(0ul, sm.Apply(Append(3, null)).StreamSequence);
        Assert.Equal(2ul, sm.Apply(Append(4, "a", bytes: 10)).StreamSequence);
        var duplicate = sm.Apply(Append(5, "a", client: 7, sequence: 1));
        Assert.Equal(AppliedKind.Duplicate, duplicate.Kind);
        Assert.Equal(1ul, duplicate.StreamSequence); // the retried append is told the first copy's index and sequence
        Assert.Equal(3ul, sm.Apply(Append(6, "a")).StreamSequence); // the duplicate took no sequence

        Assert.Equal(new StreamInfo("a", 1, 3, 3, 16, 1, 6), sm.Streams.Info("a"));
        Assert.Equal(new StreamInfo("a", 1, 2, 2, 13, 1, 4), sm.Streams.Info("a", upTo: 5)); // bounded by a view's applied index
        Assert.Null(sm.Streams.Info("missing"));
        Assert.Equal(["a", "b"], sm.Streams.List().Select(i => i.Name));
        var positions = new List<StreamPosition>();
        Assert.Equal(1ul, sm.Streams.Locate("a", 2, 10, ulong.MaxValue, positions));
        Assert.Equal([new StreamPosition(2, 4), new StreamPosition(3, 6)], positions);
        Assert.Equal(2ul, sm.Streams.SequenceAtOrAfter("a", 3));
        Assert.Equal(4ul, sm.Streams.SequenceAtOrAfter("a", 7));
    }

    [Fact]
    public void Trimming_below_a_compacted_prefix_keeps_sequences_and_frees_whole_chunks()
    {
        var index = new StreamIndex();
        for (ulong i = 1; i <= 10_000; i++)
        {
            Assert.Equal(i, index.Append("s", i * 2, 100));
        }

        index.TrimBelow(9_001); // entries at log indexes 2..9,000 (sequences 1..4,500) are gone
        Assert.Equal(new StreamInfo("s", 4_501, 10_000, 5_500, 550_000, 9_002, 20_000), index.Info("s"));
        Assert.Equal(0ul, index.SequenceOf("s", 8_000));
        Assert.Equal(4_501ul, index.SequenceOf("s", 9_002));
        Assert.Equal(10_001ul, index.Append("s", 20_001, 1));
        var positions = new List<StreamPosition>();
        Assert.Equal(4_501ul, index.Locate("s", 1, 2, ulong.MaxValue, positions)); // the first retained sequence tells the reader it was trimmed
        Assert.Equal([new StreamPosition(4_501, 9_002), new StreamPosition(4_502, 9_004)], positions);

        index.TrimBelow(30_000); // everything compacted: the stream remembers where it is
        Assert.Equal(new StreamInfo("s", 10_002, 10_001, 0, 0, 0, 0), index.Info("s"));
        Assert.Equal(10_002ul, index.Append("s", 30_000, 5));
    }

    [Fact]
    public void A_snapshot_carries_the_stream_index_and_a_restored_replica_numbers_on_alike()
    {
        var sm = new LogStateMachine();
        ulong index = 0;
        for (var i = 0; i < 5_000; i++)
        {
            sm.Apply(Append(++index, "s" + (i % 3), bytes: i % 50));
        }

        sm.PruneBelow(1_001);
        var restored = new LogStateMachine();
        restored.Restore(sm.EncodeSnapshot());
        Assert.Equal(sm.Streams.Digest(), restored.Streams.Digest());
        Assert.Equal(sm.Streams.List(), restored.Streams.List());
        Assert.Equal(sm.Apply(Append(++index, "s1")).StreamSequence, restored.Apply(Append(index, "s1")).StreamSequence);
        Assert.Equal(sm.Streams.Digest(), restored.Streams.Digest());
    }

    [Fact]
    public void A_damaged_stream_section_is_refused_with_a_typed_error_and_leaves_the_state_unchanged()
    {
        var sm = new LogStateMachine();
        sm.Apply(Append(1, "orders"));
        sm.Apply(Append(2, "orders"));
        var snapshot = sm.EncodeSnapshot();
        var target = new LogStateMachine();
        target.Apply(Append(1, "other"));
        var before = target.Streams.Digest();
        for (var cut = 1; cut < 12; cut++)
        {
            // Truncated inside the stream section, with a valid CRC over what is left: refused, nothing changed.
            var body = snapshot.AsSpan(0, snapshot.Length - 4 - cut).ToArray();
            var damaged = new byte[body.Length + 4];
            body.CopyTo(damaged, 0);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(damaged.AsSpan(body.Length), WalrusGossip.Storage.Records.Crc32C.Compute(body));
            Assert.Throws<StateMachineSnapshotException>(() => target.Restore(damaged));
            Assert.Equal(before, target.Streams.Digest());
        }
    }
}
