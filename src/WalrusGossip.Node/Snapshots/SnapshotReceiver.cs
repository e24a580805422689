using WalrusGossip.Raft;
using WalrusGossip.Storage.Records;

namespace WalrusGossip.Node.Snapshots;

/// <summary>What <see cref="SnapshotReceiver.OnChunk"/> made of a chunk.</summary>
internal enum ChunkOutcome
{
    /// <summary>Held (or skipped as already held); answer with the position.</summary>
    Progress,

    /// <summary>The last byte arrived and the whole verified and decoded: install <see cref="SnapshotReceiver.Completed"/>.</summary>
    Complete,

    /// <summary>Refused and discarded (too large, checksum mismatch, undecodable): answer with a rejection.</summary>
    Rejected,
}

/// <summary>
/// The follower's side of InstallSnapshot transfers (Raft paper §7): reassembles one snapshot's chunks in order into a
/// buffer, answers every chunk with the number of bytes it holds (so the leader resumes there, even after a dropped
/// connection or from a new leader sending the same snapshot), and only once the last byte is in verifies the CRC-32C
/// of the whole and decodes it. Nothing on disk or in the state machine changes before that: installation is the
/// Raft core's, atomically, from the verified snapshot.
/// </summary>
internal sealed class SnapshotReceiver(SnapshotTransferOptions options)
{
    private byte[]? _buffer;
    private (ulong Index, ulong Term, ulong Total, uint Crc) _key;
    private ulong _held;
    private (ulong Index, ulong Term, ulong Total, uint Crc) _installed;
    private TimeSpan _lastChunk;

    /// <summary>The snapshot that completed on the last <see cref="ChunkOutcome.Complete"/>.</summary>
    public RaftSnapshot? Completed { get; private set; }

    /// <summary>Why the last <see cref="ChunkOutcome.Rejected"/> happened.</summary>
    public string RejectReason { get; private set; } = string.Empty;

    /// <summary>Bytes held of the snapshot being received (0 when none).</summary>
    public ulong Held => _buffer is null ? 0 : _held;

    /// <summary>Takes one chunk.</summary>
    /// <param name="chunk">The chunk (validated on decoding: offset and length within the total).</param>
    /// <param name="now">Current time, to let an abandoned partial transfer go.</param>
    /// <param name="position">Bytes held after this chunk: what to answer.</param>
    public ChunkOutcome OnChunk(SnapshotChunk chunk, TimeSpan now, out ulong position)
    {
        Completed = null;
        var key = (chunk.SnapshotIndex, chunk.SnapshotTerm, chunk.TotalBytes, chunk.Crc32C);
        if (key == _installed)
        {
            position = chunk.TotalBytes; // a late retransmission of the snapshot just installed
            return ChunkOutcome.Progress;
        }

        if (chunk.TotalBytes > (ulong)options.MaxSnapshotBytes)
        {
            position = 0;
            RejectReason = $"snapshot {chunk.SnapshotIndex} of {chunk.TotalBytes} bytes exceeds MaxSnapshotBytes {options.MaxSnapshotBytes}";
            return ChunkOutcome.Rejected;
        }

        if (_buffer is null || key != _key)
        {
            // A different snapshot (newer, or from a leader that restarted its transfer): drop the partial one.
            _buffer = null;
            _key = key;
            _held = 0;
        }

        _lastChunk = now;
        if (chunk.Offset == _held && !chunk.Data.IsEmpty)
        {
            _buffer ??= new byte[checked((int)chunk.TotalBytes)];
            chunk.Data.Span.CopyTo(_buffer.AsSpan(checked((int)_held)));
            _held += (ulong)chunk.Data.Length;
        }

        position = _buffer is null ? 0 : _held;
        if (_buffer is null || _held < chunk.TotalBytes)
        {
            return ChunkOutcome.Progress;
        }

        var bytes = _buffer;
        _buffer = null;
        _held = 0;
        if (Crc32C.Compute(bytes) != chunk.Crc32C)
        {
            position = 0;
            RejectReason = $"snapshot {chunk.SnapshotIndex} failed its CRC-32C after reassembly; discarded";
            return ChunkOutcome.Rejected;
        }

        if (!SnapshotCodec.TryDecode(bytes, out var snapshot, out var error) || snapshot!.Metadata.Index != chunk.SnapshotIndex || snapshot.Metadata.Term != chunk.SnapshotTerm)
        {
            position = 0;
            RejectReason = $"snapshot {chunk.SnapshotIndex} does not decode: {(error.Length > 0 ? error : "its header names another index or term")}";
            return ChunkOutcome.Rejected;
        }

        _installed = key;
        Completed = snapshot;
        return ChunkOutcome.Complete;
    }

    /// <summary>Lets a partial transfer go when no chunk came for <see cref="SnapshotTransferOptions.AbandonAfter"/> (frees its buffer).</summary>
    public void OnTick(TimeSpan now)
    {
        if (_buffer is not null && now - _lastChunk > options.AbandonAfter)
        {
            _buffer = null;
            _held = 0;
        }
    }
}

/// <summary>Limits and timings of InstallSnapshot transfers, derived from <see cref="NodeOptions"/>.</summary>
/// <param name="ChunkBytes">Most snapshot bytes per chunk message; below the transport's frame limit.</param>
/// <param name="WindowBytes">Most unacknowledged bytes per transfer.</param>
/// <param name="ChunkTimeout">Time without progress before the sender retransmits from the last acknowledged byte.</param>
/// <param name="MaxAttempts">Retransmissions without progress before the transfer is reported failed to Raft.</param>
/// <param name="MaxSnapshotBytes">Largest snapshot a follower accepts.</param>
/// <param name="AbandonAfter">Time without a chunk after which a follower drops a partial transfer.</param>
internal sealed record SnapshotTransferOptions(int ChunkBytes, int WindowBytes, TimeSpan ChunkTimeout, int MaxAttempts, long MaxSnapshotBytes, TimeSpan AbandonAfter);
