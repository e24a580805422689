using System.Buffers;
using System.Buffers.Binary;

namespace WalrusGossip.Node;

/// <summary>Appends little-endian fields to a growing buffer (state-machine snapshots).</summary>
internal sealed class StateWriter
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    /// <summary>Bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    public void WriteUInt64(ulong value)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    public void WriteUInt32(uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    public void WriteInt32(int value) => WriteUInt32((uint)value);
}

/// <summary>Reads what <see cref="StateWriter"/> wrote; every read past the end throws <see cref="StateMachineSnapshotException"/>.</summary>
/// <param name="bytes">The encoded state.</param>
internal ref struct StateReader(ReadOnlySpan<byte> bytes)
{
    private readonly ReadOnlySpan<byte> _bytes = bytes;
    private int _at;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _bytes.Length - _at;

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    /// <summary>Reads an element count and checks that that many elements of at least <paramref name="minBytesEach"/> bytes can follow.</summary>
    /// <param name="minBytesEach">Smallest encoding of one element.</param>
    /// <returns>The count.</returns>
    public int ReadCount(int minBytesEach)
    {
        var count = ReadUInt32();
        if (count > (uint)(Remaining / minBytesEach))
        {
            throw new StateMachineSnapshotException($"a count of {count} elements does not fit in the {Remaining} bytes that follow");
        }

        return (int)count;
    }

    private ReadOnlySpan<byte> Take(int length)
    {
        if (Remaining < length)
        {
            throw new StateMachineSnapshotException($"the snapshot is truncated: {length} bytes needed at offset {_at}, {Remaining} left");
        }

        var span = _bytes.Slice(_at, length);
        _at += length;
        return span;
    }
}
