using WalrusGossip.Raft;

namespace WalrusGossip.Node.Snapshots;

/// <summary>
/// The leader's side of one InstallSnapshot transfer to one follower (Raft paper §7, Figure 13): the encoded snapshot
/// is sent in chunks of at most <see cref="SnapshotTransferOptions.ChunkBytes"/>, with at most
/// <see cref="SnapshotTransferOptions.WindowBytes"/> unacknowledged (the transfer's share of the follower's flow
/// control; Raft sends that follower no entries meanwhile). It starts with an empty probe chunk that asks the follower
/// how much of this snapshot it already holds, so a transfer cut by a dropped connection or a leader's retry resumes
/// where it stopped; a lost chunk shows as a repeated position and the sender goes back to it.
/// </summary>
internal sealed class SnapshotSender
{
    private readonly SnapshotTransferOptions _options;
    private readonly byte[] _bytes;
    private ulong _acked;
    private ulong _next;
    private bool _probing = true;
    private bool _rewound;
    private int _attempts;
    private TimeSpan _lastProgress;

    public SnapshotSender(ulong from, ulong to, ulong term, ulong index, ulong snapshotTerm, byte[] bytes, uint crc, SnapshotTransferOptions options, TimeSpan now)
    {
        From = from;
        To = to;
        Term = term;
        Index = index;
        SnapshotTerm = snapshotTerm;
        _bytes = bytes;
        Crc = crc;
        _options = options;
        _lastProgress = now;
    }

    public ulong From { get; }

    public ulong To { get; }

    /// <summary>The leader's term when the transfer began; a transfer never outlives it.</summary>
    public ulong Term { get; }

    public ulong Index { get; }

    public ulong SnapshotTerm { get; }

    public uint Crc { get; }

    public ulong TotalBytes => (ulong)_bytes.Length;

    /// <summary>True until the follower has answered the opening probe.</summary>
    public bool IsProbing => _probing;

    /// <summary>Bytes the follower has acknowledged.</summary>
    public ulong Acked => _acked;

    /// <summary>True when the follower answered the probe with a position past 0: this transfer resumed an earlier one.</summary>
    public bool Resumed { get; private set; }

    /// <summary>Sends the probe that opens the transfer.</summary>
    public void Start(List<RaftMessage> outbox) => outbox.Add(Chunk(0, 0));

    /// <summary>Handles the follower's answer.</summary>
    /// <returns>True when the follower holds the whole snapshot (the transfer is over).</returns>
    public bool OnResponse(SnapshotChunk position, bool reject, TimeSpan now, List<RaftMessage> outbox)
    {
        if (reject)
        {
            // The follower discarded what it held (checksum or decoding failure): start over from byte 0.
            _acked = 0;
            _next = 0;
            _probing = false;
            _rewound = false;
            _lastProgress = now;
            Pump(outbox);
            return false;
        }

        var offset = Math.Min(position.Offset, TotalBytes);
        if (offset >= TotalBytes)
        {
            return true;
        }

        if (_probing)
        {
            _probing = false;
            Resumed = offset > 0;
            _acked = offset;
            _next = offset;
            _lastProgress = now;
        }
        else if (offset > _acked)
        {
            _acked = offset;
            _next = Math.Max(_next, offset);
            _rewound = false;
            _attempts = 0;
            _lastProgress = now;
        }
        else if (offset == _acked && _next > _acked && !_rewound)
        {
            // The same position again while later chunks are out: the chunk at it was lost. Go back once per loss.
            _next = _acked;
            _rewound = true;
        }

        Pump(outbox);
        return false;
    }

    /// <summary>Retransmits after <see cref="SnapshotTransferOptions.ChunkTimeout"/> without progress.</summary>
    /// <returns>False when the transfer has run out of attempts and should be reported failed.</returns>
    public bool OnTick(TimeSpan now, List<RaftMessage> outbox)
    {
        if (now - _lastProgress < _options.ChunkTimeout)
        {
            return true;
        }

        _attempts++;
        if (_attempts > _options.MaxAttempts)
        {
            return false;
        }

        _lastProgress = now;
        _rewound = false;
        if (_probing)
        {
            outbox.Add(Chunk(0, 0));
        }
        else
        {
            _next = _acked;
            Pump(outbox);
        }

        return true;
    }

    private void Pump(List<RaftMessage> outbox)
    {
        var window = (ulong)_options.WindowBytes;
        while (_next < TotalBytes && _next - _acked < window)
        {
            var length = (int)Math.Min((ulong)_options.ChunkBytes, TotalBytes - _next);
            outbox.Add(Chunk(_next, length));
            _next += (ulong)length;
        }
    }

    private RaftMessage Chunk(ulong offset, int length) => new()
    {
        Type = RaftMessageType.SnapshotChunk,
        From = From,
        To = To,
        Term = Term,
        Chunk = new SnapshotChunk(Index, SnapshotTerm, offset, TotalBytes, Crc, _bytes.AsMemory(checked((int)offset), length)),
    };
}
