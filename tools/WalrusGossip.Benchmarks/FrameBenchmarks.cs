using BenchmarkDotNet.Attributes;
using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;
using WalrusGossip.Raft;

namespace WalrusGossip.Benchmarks;

/// <summary>
/// Frame encoding and decoding with <see cref="FrameCodec"/> for the hot messages, one operation per frame, with
/// allocations: a client <see cref="AppendRequest"/> carrying a 1,280-byte payload, the leader's OK
/// <see cref="AppendResponse"/>, and a <see cref="RaftEnvelope"/> holding an AppendEntries of 64 entries of 1 KiB.
/// The envelope is built once with <see cref="RaftMessageMapper.ToProto"/>, so the mapping itself is not timed.
/// <see cref="ReadFrameAsync"/> is the connection's read path: the frame is read from a <see cref="MemoryStream"/>
/// rewound before each read. Run with
/// <c>dotnet run -c Release --project tools/WalrusGossip.Benchmarks -- --filter '*FrameBenchmarks*'</c>
/// (add <c>--job short</c> for a quick look).
/// </summary>
[MemoryDiagnoser]
public class FrameBenchmarks
{
    private const int MaxFrameBytes = ProtocolLimits.DefaultMaxFrameBytes;
    private const int RaftEntries = 64;
    private const int RaftEntryBytes = 1024;

    private MessageType _type;
    private IMessage _message = null!;
    private byte[] _frame = [];
    private MemoryStream _stream = null!;

    /// <summary>The message kinds measured.</summary>
    public enum FrameKind
    {
        /// <summary>Client append: ids, sequence and a 1,280-byte payload.</summary>
        AppendRequest,

        /// <summary>The leader's OK answer to an append.</summary>
        AppendResponse,

        /// <summary>Raft AppendEntries with 64 entries of 1 KiB.</summary>
        RaftAppendEntries,
    }

    /// <summary>The message encoded or decoded.</summary>
    [Params(FrameKind.AppendRequest, FrameKind.AppendResponse, FrameKind.RaftAppendEntries)]
    public FrameKind Message { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        (_type, _message) = Message switch
        {
            FrameKind.AppendRequest => (MessageType.AppendRequest, (IMessage)CreateAppendRequest()),
            FrameKind.AppendResponse => (MessageType.AppendResponse, CreateAppendResponse()),
            _ => (MessageType.RaftEnvelope, RaftMessageMapper.ToProto(CreateAppendEntries())),
        };
        _frame = FrameCodec.Encode(_type, _message, MaxFrameBytes);
        _stream = new MemoryStream(_frame, writable: false);
    }

    [GlobalCleanup]
    public void Cleanup() => _stream.Dispose();

    /// <summary>Encodes into an <see cref="System.Buffers.ArrayPool{T}"/> buffer and returns it, as a connection's writer does.</summary>
    [Benchmark(Baseline = true)]
    public int EncodePooled()
    {
        using var frame = FrameCodec.EncodePooled(_type, _message, MaxFrameBytes);
        return frame.Length;
    }

    /// <summary>Encodes into a new array.</summary>
    [Benchmark]
    public int Encode() => FrameCodec.Encode(_type, _message, MaxFrameBytes).Length;

    /// <summary>Decodes one complete frame from a span (the body's bytes fields are copied out of it).</summary>
    [Benchmark]
    public IMessage Decode() => FrameCodec.Decode(_frame, MaxFrameBytes).Message;

    /// <summary>Reads one frame from a stream: length prefix, type, body into a pooled buffer, parse.</summary>
    [Benchmark]
    public async ValueTask<IMessage?> ReadFrameAsync()
    {
        _stream.Position = 0;
        var frame = await FrameCodec.ReadFrameAsync(_stream, MaxFrameBytes, CancellationToken.None).ConfigureAwait(false);
        return frame?.Message;
    }

    private static AppendRequest CreateAppendRequest()
    {
        var payload = new byte[1280];
        new Random(1).NextBytes(payload);
        return new AppendRequest
        {
            RequestId = 1_234_567,
            ClientId = 0x5eed_5eed_5eed_5eed,
            Sequence = 987_654,
            Payload = ByteString.CopyFrom(payload),
        };
    }

    private static AppendResponse CreateAppendResponse() => new()
    {
        RequestId = 1_234_567,
        Status = ResponseStatus.Ok,
        Index = 12_345_678,
        Term = 7,
        LeaderId = 1,
        LeaderClientAddress = "10.0.0.1:7000",
    };

    /// <summary>An AppendEntries from leader 1 to follower 2, as a leader sends it mid-stream.</summary>
    private static RaftMessage CreateAppendEntries()
    {
        const ulong term = 7;
        const ulong prevIndex = 12_345_600;
        var random = new Random(1);
        var entries = new LogEntry[RaftEntries];
        for (var i = 0; i < entries.Length; i++)
        {
            var payload = new byte[RaftEntryBytes];
            random.NextBytes(payload);
            entries[i] = new LogEntry(prevIndex + 1 + (ulong)i, term, EntryType.Normal, payload);
        }

        return new RaftMessage
        {
            Type = RaftMessageType.Append,
            From = 1,
            To = 2,
            Term = term,
            LogTerm = term,
            Index = prevIndex,
            Entries = entries,
            Commit = prevIndex - 32,
        };
    }
}
