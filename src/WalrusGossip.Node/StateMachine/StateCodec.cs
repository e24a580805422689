using System.Buffers;
using System.Buffers.Binary;
using MessagePack;

namespace WalrusGossip.Node;

/// <summary>How a <see cref="StateWriter"/> lays out its fields.</summary>
internal enum StateFormat
{
    /// <summary>
    /// Fixed-width little-endian integers, u32-length-prefixed bytes and strings, LEB128 varints, u32 counts. Log
    /// commands (security and consumer changes) always use it, since every release must apply them; state-machine
    /// snapshots used it up to version 4.
    /// </summary>
    Legacy = 0,

    /// <summary>
    /// MessagePack (msgpack spec, written and read with MessagePack-CSharp's <see cref="MessagePackWriter"/> and
    /// <see cref="MessagePackReader"/>): integers in their shortest msgpack form, bytes as bin, strings as str, a
    /// collection as an array whose elements are records (arrays of their fields). State-machine snapshots from
    /// version 5.
    /// </summary>
    MessagePack = 1,
}

/// <summary>
/// Appends fields to a growing buffer in one <see cref="StateFormat"/> (state-machine snapshots and log commands). The
/// same calls produce either layout, so each table has one <c>WriteTo</c> and one <c>ReadFrom</c> for both.
/// </summary>
/// <param name="format">The layout; <see cref="StateFormat.Legacy"/> unless told otherwise.</param>
internal sealed class StateWriter(StateFormat format = StateFormat.Legacy)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(256);

    /// <summary>The layout being written.</summary>
    public StateFormat Format { get; } = format;

    /// <summary>Bytes written so far.</summary>
    public ReadOnlySpan<byte> Written => _buffer.WrittenSpan;

    /// <summary>Legacy: 8 bytes little-endian. MessagePack: a uint in its shortest form.</summary>
    public void WriteUInt64(ulong value)
    {
        if (Format == StateFormat.MessagePack)
        {
            var w = new MessagePackWriter(_buffer);
            w.Write(value);
            w.Flush();
            return;
        }

        BinaryPrimitives.WriteUInt64LittleEndian(_buffer.GetSpan(8), value);
        _buffer.Advance(8);
    }

    /// <summary>Legacy: 4 bytes little-endian. MessagePack: a uint in its shortest form.</summary>
    public void WriteUInt32(uint value)
    {
        if (Format == StateFormat.MessagePack)
        {
            WriteUInt64(value);
            return;
        }

        BinaryPrimitives.WriteUInt32LittleEndian(_buffer.GetSpan(4), value);
        _buffer.Advance(4);
    }

    /// <summary>Legacy: a u32 count. MessagePack: an array header; each of the <paramref name="count"/> elements follows as a <see cref="BeginRecord"/> or a single value.</summary>
    public void WriteCount(int count)
    {
        if (Format == StateFormat.MessagePack)
        {
            var w = new MessagePackWriter(_buffer);
            w.WriteArrayHeader(count);
            w.Flush();
            return;
        }

        WriteUInt32((uint)count);
    }

    /// <summary>Legacy: nothing. MessagePack: an array header for the <paramref name="fields"/> values of one record that follow.</summary>
    public void BeginRecord(int fields)
    {
        if (Format == StateFormat.MessagePack)
        {
            var w = new MessagePackWriter(_buffer);
            w.WriteArrayHeader(fields);
            w.Flush();
        }
    }

    /// <summary>Legacy: a u32 length, then the bytes. MessagePack: bin.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value)
    {
        if (Format == StateFormat.MessagePack)
        {
            var w = new MessagePackWriter(_buffer);
            w.Write(value);
            w.Flush();
            return;
        }

        WriteUInt32((uint)value.Length);
        value.CopyTo(_buffer.GetSpan(value.Length));
        _buffer.Advance(value.Length);
    }

    /// <summary>Legacy: a u32 length, then the UTF-8 bytes. MessagePack: str.</summary>
    public void WriteString(string value)
    {
        if (Format == StateFormat.MessagePack)
        {
            var w = new MessagePackWriter(_buffer);
            w.Write(value);
            w.Flush();
            return;
        }

        WriteBytes(System.Text.Encoding.UTF8.GetBytes(value));
    }

    /// <summary>
    /// Legacy: an unsigned LEB128 varint: 7 bits per byte, low groups first, high bit set on all but the last (1-10
    /// bytes). MessagePack: a uint in its shortest form (1-9 bytes).
    /// </summary>
    public void WriteVarUInt64(ulong value)
    {
        if (Format == StateFormat.MessagePack)
        {
            WriteUInt64(value);
            return;
        }

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

/// <summary>
/// Reads what <see cref="StateWriter"/> wrote, in the same <see cref="StateFormat"/>; every read past the end, of the
/// wrong msgpack type or out of range throws <see cref="StateMachineSnapshotException"/>, never anything else.
/// </summary>
internal ref struct StateReader
{
    private readonly StateFormat _format;
    private readonly ReadOnlySpan<byte> _bytes;
    private readonly int _length;
    private MessagePackReader _mp;
    private int _at;

    /// <summary>A reader of the legacy layout.</summary>
    /// <param name="bytes">The encoded state or command.</param>
    public StateReader(ReadOnlySpan<byte> bytes)
    {
        _format = StateFormat.Legacy;
        _bytes = bytes;
        _length = bytes.Length;
    }

    /// <summary>A reader of either layout.</summary>
    /// <param name="bytes">The encoded state.</param>
    /// <param name="format">Its layout.</param>
    public StateReader(ReadOnlyMemory<byte> bytes, StateFormat format)
    {
        _format = format;
        _bytes = bytes.Span;
        _length = bytes.Length;
        _mp = new MessagePackReader(bytes);
    }

    /// <summary>The layout being read.</summary>
    public readonly StateFormat Format => _format;

    /// <summary>Bytes not read yet.</summary>
    public readonly int Remaining => _format == StateFormat.MessagePack ? _length - (int)_mp.Consumed : _length - _at;

    public ulong ReadUInt64()
    {
        if (_format == StateFormat.MessagePack)
        {
            try
            {
                return _mp.ReadUInt64();
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Failure("an unsigned integer", e);
            }
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(Take(8));
    }

    public uint ReadUInt32()
    {
        if (_format == StateFormat.MessagePack)
        {
            try
            {
                return _mp.ReadUInt32();
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Failure("a 32-bit unsigned integer", e);
            }
        }

        return BinaryPrimitives.ReadUInt32LittleEndian(Take(4));
    }

    /// <summary>Legacy: nothing. MessagePack: the array header of one record, which must hold exactly <paramref name="fields"/> values.</summary>
    /// <param name="fields">Values the record has in this snapshot version.</param>
    public void ReadRecord(int fields)
    {
        if (_format != StateFormat.MessagePack)
        {
            return;
        }

        int header;
        try
        {
            header = _mp.ReadArrayHeader();
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw Failure("a record", e);
        }

        if (header != fields)
        {
            throw new StateMachineSnapshotException($"a record of {header} fields where {fields} belong, at offset {_mp.Consumed}");
        }
    }

    /// <summary>What <see cref="StateWriter.WriteVarUInt64"/> wrote; a varint longer than 10 bytes or overflowing 64 bits is refused.</summary>
    public ulong ReadVarUInt64()
    {
        if (_format == StateFormat.MessagePack)
        {
            return ReadUInt64();
        }

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
        if (_format == StateFormat.MessagePack)
        {
            try
            {
                var bytes = _mp.ReadBytes() ?? throw new StateMachineSnapshotException("a bytes field is nil");
                return bytes.Length <= maxLength
                    ? bytes.ToArray()
                    : throw new StateMachineSnapshotException($"a field of {bytes.Length} bytes is longer than the {maxLength} allowed");
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Failure("a bytes field", e);
            }
        }

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
        byte[] bytes;
        if (_format == StateFormat.MessagePack)
        {
            try
            {
                var sequence = _mp.ReadStringSequence() ?? throw new StateMachineSnapshotException("a string field is nil");
                bytes = sequence.Length <= maxLength
                    ? sequence.ToArray()
                    : throw new StateMachineSnapshotException($"a string of {sequence.Length} bytes is longer than the {maxLength} allowed");
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Failure("a string field", e);
            }
        }
        else
        {
            bytes = ReadBytes(maxLength);
        }

        try
        {
            return new System.Text.UTF8Encoding(false, true).GetString(bytes);
        }
        catch (ArgumentException e)
        {
            throw new StateMachineSnapshotException("a string field is not valid UTF-8", e);
        }
    }

    /// <summary>
    /// Reads an element count (legacy: u32; MessagePack: an array header) and checks that that many elements of at
    /// least <paramref name="minBytesEach"/> bytes (legacy layout; 1 in MessagePack) can follow.
    /// </summary>
    /// <param name="minBytesEach">Smallest legacy encoding of one element.</param>
    /// <returns>The count.</returns>
    public int ReadCount(int minBytesEach)
    {
        if (_format == StateFormat.MessagePack)
        {
            try
            {
                return _mp.ReadArrayHeader(); // refuses a count larger than the bytes left
            }
            catch (Exception e) when (IsDecodeFailure(e))
            {
                throw Failure("a collection", e);
            }
        }

        var count = ReadUInt32();
        if (count > (uint)(Remaining / minBytesEach))
        {
            throw new StateMachineSnapshotException($"a count of {count} elements does not fit in the {Remaining} bytes that follow");
        }

        return (int)count;
    }

    /// <summary>What <see cref="MessagePackReader"/> throws for bytes that are not what was asked for (truncated, wrong type code, out of range).</summary>
    private static bool IsDecodeFailure(Exception e) =>
        e is EndOfStreamException or MessagePackSerializationException or OverflowException or ArgumentOutOfRangeException;

    private readonly StateMachineSnapshotException Failure(string what, Exception e) =>
        new($"the snapshot does not hold {what} at offset {_mp.Consumed}: {e.Message}", e);

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
