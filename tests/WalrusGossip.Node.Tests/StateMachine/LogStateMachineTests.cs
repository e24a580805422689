using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests;

/// <summary>
/// The replicated state machine: a retried append is a duplicate readers skip and its client is told the first
/// index (dissertation §6.3); internal entries are not applications; a snapshot rebuilds the same state, including
/// what sessions forgot; a damaged snapshot is refused with a typed error and changes nothing.
/// </summary>
public sealed class LogStateMachineTests
{
    [Fact]
    public void A_second_copy_of_an_append_is_a_duplicate_answered_with_the_first_index()
    {
        var sm = new LogStateMachine();
        Assert.Equal(AppliedKind.Application, sm.Apply(Append(5, client: 7, sequence: 1)).Kind);
        var copy = sm.Apply(Append(9, client: 7, sequence: 1));

        Assert.Equal(new ApplyOutcome(AppliedKind.Duplicate, 5, 7, 1, StreamSequence: 1), copy); // stream "s": the first copy is its first entry
        Assert.True(sm.IsDuplicate(9));
        Assert.False(sm.IsDuplicate(5));
        Assert.Equal(SessionCheck.Duplicate, sm.CheckSession(7, 1, out var original));
        Assert.Equal(5ul, original);
        Assert.Equal(9ul, sm.AppliedIndex);
    }

    [Fact]
    public void Internal_entries_and_foreign_payloads_are_not_applications()
    {
        var sm = new LogStateMachine();
        Assert.Equal(AppliedKind.Internal, sm.Apply(new LogEntry(1, 1, EntryType.ConfigChange, ClusterConfig.Create([1]).Encode())).Kind);
        Assert.Equal(AppliedKind.Internal, sm.Apply(new LogEntry(2, 1, EntryType.NoOp, default)).Kind);
        Assert.Equal(AppliedKind.Internal, sm.Apply(new LogEntry(3, 1, EntryType.Normal, new byte[] { 0xEE, 1, 2 })).Kind);
        Assert.Equal(AppliedKind.Application, sm.Apply(Append(4, client: 0, sequence: 0)).Kind);
        Assert.Equal(AppliedKind.Internal, sm.Apply(Append(4, client: 1, sequence: 1)).Kind); // at or below the applied index: ignored
    }

    [Fact]
    public void Acknowledged_sequences_are_forgotten_and_a_late_copy_is_expired_not_applied_again()
    {
        var sm = new LogStateMachine();
        sm.Apply(Append(1, client: 7, sequence: 1));
        sm.Apply(Append(2, client: 7, sequence: 2, acknowledgedBelow: 2));
        Assert.Equal(SessionCheck.Expired, sm.CheckSession(7, 1, out _));
        Assert.Equal(SessionCheck.Duplicate, sm.CheckSession(7, 2, out _));

        // A copy of (7, 1) committed after its client acknowledged it is not served a second time (§6.3).
        Assert.Equal(new ApplyOutcome(AppliedKind.Expired, 3, 7, 1), sm.Apply(Append(3, client: 7, sequence: 1)));
        Assert.True(sm.IsDuplicate(3));
        Assert.Equal(3ul, sm.AppliedIndex);
    }

    [Fact]
    public void A_snapshot_restores_sessions_forgotten_sequences_duplicates_and_the_applied_point()
    {
        var sm = new LogStateMachine(maxClients: 4, maxSequencesPerClient: 2);
        for (ulong i = 1; i <= 20; i++)
        {
            sm.Apply(Append(i, client: 1 + (i % 3), sequence: 1 + (i / 3)));
        }

        sm.Apply(Append(21, client: 1, sequence: 7, acknowledgedBelow: 6));
        sm.Apply(Append(22, client: 2, sequence: 7)); // a second copy of (2, 7), first applied at 19
        var copy = new LogStateMachine(maxClients: 4, maxSequencesPerClient: 2);
        copy.Restore(sm.EncodeSnapshot());

        Assert.Equal(sm.AppliedIndex, copy.AppliedIndex);
        Assert.Equal(sm.AppliedTerm, copy.AppliedTerm);
        Assert.Equal(sm.SessionCount, copy.SessionCount);
        Assert.Equal(sm.EncodeSnapshot(), copy.EncodeSnapshot());
        for (ulong client = 1; client <= 3; client++)
        {
            for (ulong sequence = 1; sequence <= 8; sequence++)
            {
                Assert.Equal(sm.CheckSession(client, sequence, out var a), copy.CheckSession(client, sequence, out var b));
                Assert.Equal(a, b);
            }
        }

        for (ulong index = 1; index <= 22; index++)
        {
            Assert.Equal(sm.IsDuplicate(index), copy.IsDuplicate(index));
        }
    }

    [Fact]
    public void Duplicates_below_the_first_retained_index_are_pruned_and_the_set_is_bounded()
    {
        var sm = new LogStateMachine(maxDuplicates: 2);
        sm.Apply(Append(1, client: 7, sequence: 1));
        sm.Apply(Append(2, client: 7, sequence: 1));
        sm.Apply(Append(3, client: 7, sequence: 1));
        sm.Apply(Append(4, client: 7, sequence: 1));

        Assert.False(sm.IsDuplicate(2)); // the oldest fell out of the bound
        Assert.True(sm.IsDuplicate(3));
        sm.PruneBelow(4);
        Assert.False(sm.IsDuplicate(3));
        Assert.True(sm.IsDuplicate(4));
        Assert.Equal(1, sm.Duplicates.Count);
    }

    [Theory]
    [InlineData("truncated")]
    [InlineData("bit flip")]
    [InlineData("empty")]
    [InlineData("garbage")]
    public void A_damaged_snapshot_is_refused_with_a_typed_error_and_changes_nothing(string damage)
    {
        var source = new LogStateMachine();
        source.Apply(Append(1, client: 7, sequence: 1));
        var bytes = source.EncodeSnapshot();
        bytes = damage switch
        {
            "truncated" => bytes[..^9],
            "bit flip" => Flip(bytes, 13),
            "empty" => [],
            _ => [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 37))],
        };
        var target = new LogStateMachine();
        target.Apply(Append(3, client: 9, sequence: 4));

        Assert.Throws<StateMachineSnapshotException>(() => target.Restore(bytes));
        Assert.Equal(3ul, target.AppliedIndex);
        Assert.Equal(SessionCheck.Duplicate, target.CheckSession(9, 4, out _));
    }

    /// <summary>Sessions, duplicates, a security policy, three streams and a consumer: every section of the state.</summary>
    private static LogStateMachine RichState()
    {
        var sm = new LogStateMachine(maxClients: 8, maxSequencesPerClient: 3);
        ulong index = 0;
        for (ulong i = 1; i <= 30; i++)
        {
            sm.Apply(new LogEntry(++index, 2, EntryType.Normal, AppendCommand.Encode(1 + (i % 4), 1 + (i / 4), $"s{i % 3}", [(byte)i])));
        }

        sm.Apply(new LogEntry(++index, 2, EntryType.Normal, AppendCommand.Encode(2, 1, "s1", [1]))); // a duplicate
        sm.Apply(new LogEntry(++index, 2, EntryType.Security, new SecurityChange(SecurityChangeKind.PutRole, "reader", Permission.Read, "s").Encode()));
        sm.Apply(new LogEntry(++index, 2, EntryType.Security, new SecurityChange(SecurityChangeKind.PutToken, "dash", SecretHash: SecurityPolicy.HashSecret("t"), Roles: ["reader"]).Encode()));
        sm.Apply(new LogEntry(++index, 2, EntryType.Security, new SecurityChange(SecurityChangeKind.Grant, "alice", Roles: ["reader"]).Encode()));
        sm.Apply(new LogEntry(++index, 2, EntryType.Consumer, new ConsumerChange(ConsumerChangeKind.Create, "s1", "billing", 5_000).Encode()));
        sm.Apply(new LogEntry(++index, 2, EntryType.Consumer, new ConsumerChange(ConsumerChangeKind.Ack, "s1", "billing", 4).Encode()));
        return sm;
    }

    private static string Fingerprint(LogStateMachine sm) =>
        $"{sm.AppliedIndex}/{sm.AppliedTerm} sessions {sm.SessionCount} duplicates {sm.Duplicates.Count} security {sm.Security.Digest()} " +
        $"streams {sm.Streams.Count} {sm.Streams.Digest()} consumers {sm.Consumers.Describe()}";

    [Fact]
    public void A_version_4_snapshot_of_0_3_and_a_version_5_messagepack_snapshot_restore_the_same_state()
    {
        var sm = RichState();
        var v4 = sm.EncodeSnapshot(StateFormat.Legacy);
        var v5 = sm.EncodeSnapshot();
        Assert.Equal(4u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(v4.AsSpan(4)));
        Assert.Equal(5u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(v5.AsSpan(4)));

        var fromV4 = new LogStateMachine(maxClients: 8, maxSequencesPerClient: 3);
        fromV4.Restore(v4);
        var fromV5 = new LogStateMachine(maxClients: 8, maxSequencesPerClient: 3);
        fromV5.Restore(v5);

        Assert.Equal(Fingerprint(sm), Fingerprint(fromV4));
        Assert.Equal(Fingerprint(sm), Fingerprint(fromV5));
        Assert.Equal(v5, fromV4.EncodeSnapshot()); // restoring the old layout and writing the new one loses nothing
        Assert.True(v5.Length < v4.Length, $"MessagePack {v5.Length} bytes, legacy {v4.Length}");
    }

    [Fact]
    public void The_messagepack_body_is_one_array_any_msgpack_reader_can_walk()
    {
        var v5 = RichState().EncodeSnapshot();
        var reader = new MessagePack.MessagePackReader(v5.AsMemory(8, v5.Length - 12));

        Assert.Equal(7, reader.ReadArrayHeader()); // applied, term, sessions, duplicates, security, streams, consumers
        reader.Skip();
        reader.Skip();
        for (var section = 0; section < 5; section++)
        {
            Assert.Equal(MessagePack.MessagePackType.Array, reader.NextMessagePackType);
            reader.Skip();
        }

        Assert.True(reader.End);
    }

    [Fact]
    public void A_messagepack_body_damaged_under_a_valid_crc_is_refused_with_a_typed_error_only()
    {
        var v5 = RichState().EncodeSnapshot();
        var random = new Random(20);
        var refused = 0;
        for (var i = 0; i < 4_000; i++)
        {
            // Truncate the body or flip a bit in it, then recompute the CRC so the damage reaches the decoder.
            var body = v5[..^4].ToArray();
            if (i % 2 == 0)
            {
                body = body[..(8 + random.Next(body.Length - 8))];
            }
            else
            {
                body[8 + random.Next(body.Length - 8)] ^= (byte)(1 << random.Next(8));
            }

            var damaged = new byte[body.Length + 4];
            body.CopyTo(damaged, 0);
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(damaged.AsSpan(body.Length), WalrusGossip.Storage.Records.Crc32C.Compute(body));
            var target = new LogStateMachine();
            try
            {
                target.Restore(damaged);
            }
            catch (StateMachineSnapshotException)
            {
                refused++;
                Assert.Equal(0ul, target.AppliedIndex);
            }
        }

        Assert.True(refused >= 2_000, $"{refused} of 4,000 refused"); // every truncation, and most flips
    }

    [Fact]
    public void The_append_command_decodes_its_stream_and_application_bytes()
    {
        var payload = AppendCommand.Encode(7, 1, "orders", "hello"u8, acknowledgedBelow: 1);
        Assert.True(LogStateMachine.TryDecodeAppend(payload, out var stream, out var data));
        Assert.Equal("orders", stream);
        Assert.Equal("hello"u8.ToArray(), data.ToArray());
        Assert.False(LogStateMachine.TryDecodeAppend(new byte[] { 3, 0 }, out _, out _));
    }

    private static LogEntry Append(ulong index, ulong client, ulong sequence, ulong acknowledgedBelow = 0) =>
        new(index, 1, EntryType.Normal, AppendCommand.Encode(client, sequence, "s", [(byte)index], acknowledgedBelow));

    private static byte[] Flip(byte[] bytes, int at)
    {
        var copy = bytes.ToArray();
        copy[at] ^= 0x10;
        return copy;
    }
}
