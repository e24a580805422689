using System.Buffers.Binary;

namespace WalrusGossip.LoadTest;

/// <summary>
/// The header every load-test payload starts with, <see cref="Size"/> bytes, little-endian: the run id (bytes 0-7),
/// a sequence number unique in the run (8-15) and the <see cref="System.Diagnostics.Stopwatch"/> timestamp the append
/// was meant to be sent at (16-23); filler follows. It lets the failover scenario check every acknowledged append
/// against what the log holds and the tail scenario measure delivery lag.
/// </summary>
internal static class PayloadStamp
{
    /// <summary>Bytes the header takes (the smallest <c>--payload</c>).</summary>
    public const int Size = 24;

    /// <summary>Writes the header into the first <see cref="Size"/> bytes of <paramref name="payload"/>.</summary>
    /// <param name="payload">The payload, at least <see cref="Size"/> bytes.</param>
    /// <param name="runId">The run's id.</param>
    /// <param name="sequence">The append's sequence number in the run.</param>
    /// <param name="sendTimestamp">Stopwatch timestamp the append is meant to be sent at.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="payload"/> is shorter than <see cref="Size"/>.</exception>
    public static void Write(Span<byte> payload, long runId, long sequence, long sendTimestamp)
    {
        BinaryPrimitives.WriteInt64LittleEndian(payload, runId);
        BinaryPrimitives.WriteInt64LittleEndian(payload[8..], sequence);
        BinaryPrimitives.WriteInt64LittleEndian(payload[16..], sendTimestamp);
    }

    /// <summary>Reads the header of a payload of run <paramref name="runId"/>.</summary>
    /// <param name="payload">A log entry's payload.</param>
    /// <param name="runId">The run's id.</param>
    /// <param name="sequence">The sequence number, or 0 when the payload is not of this run.</param>
    /// <param name="sendTimestamp">The intended send timestamp, or 0 when the payload is not of this run.</param>
    /// <returns>True when the payload has a header and it names <paramref name="runId"/>.</returns>
    public static bool TryRead(ReadOnlySpan<byte> payload, long runId, out long sequence, out long sendTimestamp)
    {
        if (payload.Length < Size || BinaryPrimitives.ReadInt64LittleEndian(payload) != runId)
        {
            sequence = 0;
            sendTimestamp = 0;
            return false;
        }

        sequence = BinaryPrimitives.ReadInt64LittleEndian(payload[8..]);
        sendTimestamp = BinaryPrimitives.ReadInt64LittleEndian(payload[16..]);
        return true;
    }
}
