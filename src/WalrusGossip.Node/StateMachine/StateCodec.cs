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

    /// <summary>A u32 length, then the bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        WriteInt32(value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }

    /// <summary>A u32 length, then the UTF-8 bytes.</summary>
    public void WriteString(string value) => WriteBytes(System.Text.Encoding.UTF8.GetBytes(value));

    /// <summary>An unsigned LEB128 varint: 7 bits per byte, low groups first, high bit set on all but the last (1-10 bytes).</summary>
    public void WriteVarUInt64(ulong value)
    {
        var span = _buffer.GetSpan(10);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }

        span[n++] = (byte)value;
        _buffer.Advance(n);
    }
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

    /// <summary>What <see cref="StateWriter.WriteVarUInt64"/> wrote; a varint longer than 10 bytes or overflowing 64 bits is refused.</summary>
    public ulong ReadVarUInt64()
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            var b = Take(1)[0];
            if (shift == 63 && b > 1)
            {
                break;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }

        throw new StateMachineSnapshotException("a varint is longer than 64 bits");
    }

    /// <summary>What <see cref="StateWriter.WriteBytes"/> wrote, at most <paramref name="maxLength"/> bytes.</summary>
    public byte[] ReadBytes(int maxLength)
    {
        var length = ReadUInt32();
        if (length > (uint)maxLength)
        {
            throw new StateMachineSnapshotException($"a field of {length} bytes is longer than the {maxLength} allowed");
        }

        return Take((int)length).ToArray();
    }

    /// <summary>What <see cref="StateWriter.WriteString"/> wrote, at most <paramref name="maxLength"/> UTF-8 bytes.</summary>
    public string ReadString(int maxLength)
    {
        var bytes = ReadBytes(maxLength);
        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(bytes);
        }
        catch (ArgumentException e)
        {
            throw new StateMachineSnapshotException("a string field is not valid UTF-8", e);
        }
    }

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
