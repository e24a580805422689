using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;

namespace WalrusGossip.Transport.Tests;

public sealed class RaftMessageMapperTests
{
    [Fact]
    public void Every_field_entries_and_snapshot_survive_encoding_and_decoding()
    {
        var original = RaftSamples.AppendWithEverything();

        var bytes = FrameCodec.Encode(MessageType.RaftEnvelope, RaftMessageMapper.ToProto(original));
        var decoded = RaftMessageMapper.FromProto((RaftEnvelope)FrameCodec.Decode(bytes).Message);

        AssertSame(original, decoded);
    }

    [Theory]
    [MemberData(nameof(AllRaftTypes))]
    public void Every_raft_message_type_round_trips(RaftMessageType type)
    {
        var original = new RaftMessage { Type = type, From = 3, To = 9, Term = ulong.MaxValue, Index = 5, LogTerm = 2, Commit = 4 };

        var decoded = RaftMessageMapper.FromProto(RaftEnvelope.Parser.ParseFrom(RaftMessageMapper.ToProto(original).ToByteArray()));

        AssertSame(original, decoded);
    }

    [Fact]
    public void An_empty_snapshot_and_no_snapshot_stay_distinct()
    {
        var withEmpty = new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = 1, To = 2, Snapshot = RaftSnapshot.Empty };
        var without = new RaftMessage { Type = RaftMessageType.InstallSnapshot, From = 1, To = 2 };

        var decodedEmpty = RaftMessageMapper.FromProto(RaftEnvelope.Parser.ParseFrom(RaftMessageMapper.ToProto(withEmpty).ToByteArray()));
        var decodedWithout = RaftMessageMapper.FromProto(RaftEnvelope.Parser.ParseFrom(RaftMessageMapper.ToProto(without).ToByteArray()));

        Assert.NotNull(decodedEmpty.Snapshot);
        Assert.True(decodedEmpty.Snapshot.IsEmpty);
        Assert.Null(decodedWithout.Snapshot);
    }

    public static IEnumerable<TheoryDataRow<RaftMessageType>> AllRaftTypes() =>
        Enum.GetValues<RaftMessageType>().Select(t => new TheoryDataRow<RaftMessageType>(t));

    public static IEnumerable<TheoryDataRow<string>> InvalidEnvelopes() =>
        Invalid.Keys.Select(k => new TheoryDataRow<string>(k));

    private static readonly Dictionary<string, Func<RaftEnvelope>> Invalid = new()
    {
        ["unspecified type"] = () => Valid(e => e.Type = RaftMessageKind.Unspecified),
        ["type out of range"] = () => Valid(e => e.Type = (RaftMessageKind)99),
        ["from zero"] = () => Valid(e => e.From = 0),
        ["to zero"] = () => Valid(e => e.To = 0),
        ["unknown entry type"] = () => Valid(e => e.Entries[0].Type = (RaftEntryType)42),
        ["unspecified entry type"] = () => Valid(e => e.Entries[0].Type = RaftEntryType.Unspecified),
        ["entry index gap"] = () => Valid(e => e.Entries[1].Index += 1),
        ["entry term zero"] = () => Valid(e => e.Entries[0].Term = 0),
        ["snapshot voter zero"] = () => Valid(e => e.Snapshot.Voters.Add(0)),
        ["snapshot voter repeated"] = () => Valid(e => e.Snapshot.Voters.Add(e.Snapshot.Voters[0])),
        ["snapshot voter also learner"] = () => Valid(e => e.Snapshot.Learners.Add(e.Snapshot.Voters[0])),
        ["chunk past its total"] = () => Valid(e => e.Chunk.Offset = e.Chunk.TotalBytes - 1),
        ["chunk offset past its total"] = () => Valid(e => e.Chunk.Offset = e.Chunk.TotalBytes + 1),
        ["chunk of an empty snapshot"] = () => Valid(e => e.Chunk.TotalBytes = 0),
        ["chunk of snapshot index zero"] = () => Valid(e => e.Chunk.SnapshotIndex = 0),
        ["chunk of snapshot term zero"] = () => Valid(e => e.Chunk.SnapshotTerm = 0),
    };

    [Theory]
    [MemberData(nameof(InvalidEnvelopes))]
    public void Invalid_field_values_are_malformed_never_a_crash(string name)
    {
        var envelope = RaftEnvelope.Parser.ParseFrom(Invalid[name]().ToByteArray());

        var ex = Assert.Throws<ProtocolException>(() => RaftMessageMapper.FromProto(envelope));
        Assert.Equal(ProtocolErrorKind.Malformed, ex.Kind);
    }

    private static RaftEnvelope Valid(Action<RaftEnvelope> corrupt)
    {
        var envelope = RaftMessageMapper.ToProto(RaftSamples.AppendWithEverything()).Clone();
        corrupt(envelope);
        return envelope;
    }

    private static void AssertSame(RaftMessage expected, RaftMessage actual)
    {
        Assert.Equal(expected.Type, actual.Type);
        Assert.Equal(expected.From, actual.From);
        Assert.Equal(expected.To, actual.To);
        Assert.Equal(expected.Term, actual.Term);
        Assert.Equal(expected.LogTerm, actual.LogTerm);
        Assert.Equal(expected.Index, actual.Index);
        Assert.Equal(expected.Commit, actual.Commit);
        Assert.Equal(expected.Reject, actual.Reject);
        Assert.Equal(expected.RejectHint, actual.RejectHint);
        Assert.Equal(expected.Transfer, actual.Transfer);
        Assert.Equal(expected.Context.ToArray(), actual.Context.ToArray());
        Assert.Equal(expected.Entries.Count, actual.Entries.Count);
        for (var i = 0; i < expected.Entries.Count; i++)
        {
            Assert.True(expected.Entries[i].ContentEquals(actual.Entries[i]), $"entry {i}: {expected.Entries[i]} != {actual.Entries[i]}");
        }

        Assert.Equal(expected.Chunk is null, actual.Chunk is null);
        if (expected.Chunk is { } chunk)
        {
            Assert.Equal((chunk.SnapshotIndex, chunk.SnapshotTerm, chunk.Offset, chunk.TotalBytes, chunk.Crc32C), (actual.Chunk!.SnapshotIndex, actual.Chunk.SnapshotTerm, actual.Chunk.Offset, actual.Chunk.TotalBytes, actual.Chunk.Crc32C));
            Assert.Equal(chunk.Data.ToArray(), actual.Chunk.Data.ToArray());
        }

        if (expected.Snapshot is null)
        {
            Assert.Null(actual.Snapshot);
            return;
        }

        Assert.NotNull(actual.Snapshot);
        Assert.Equal(expected.Snapshot.Metadata.Index, actual.Snapshot.Metadata.Index);
        Assert.Equal(expected.Snapshot.Metadata.Term, actual.Snapshot.Metadata.Term);
        Assert.Equal(expected.Snapshot.Metadata.Config.Voters, actual.Snapshot.Metadata.Config.Voters);
        Assert.Equal(expected.Snapshot.Metadata.Config.Learners, actual.Snapshot.Metadata.Config.Learners);
        Assert.Equal(expected.Snapshot.Data.ToArray(), actual.Snapshot.Data.ToArray());
    }
}
