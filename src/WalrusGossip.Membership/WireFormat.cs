using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace WalrusGossip.Membership;

/// <summary>
/// Bounds-checked reader over a received buffer. Every read returns false instead of throwing when
/// the input is short or malformed; callers stop at the first false.
/// </summary>
internal ref struct WireReader
{
    /// <summary>Longest name or address accepted, in UTF-8 bytes.</summary>
    public const int MaxStringBytes = 255;

    private readonly ReadOnlySpan<byte> _data;
    private int _position;

    public WireReader(ReadOnlySpan<byte> data)
    {
        _data = data;
        _position = 0;
    }

    public readonly int Remaining => _data.Length - _position;

    public readonly int Position => _position;

    public bool TryReadByte(out byte value)
    {
        if (_position >= _data.Length)
        {
            value = 0;
            return false;
        }

        value = _data[_position++];
        return true;
    }

    /// <summary>LEB128 unsigned varint; rejects more than 10 bytes and overflow.</summary>
    public bool TryReadVarint(out ulong value)
    {
        value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (!TryReadByte(out var b))
            {
                return false;
            }

            if (shift == 63 && b > 1)
            {
                return false;
            }

            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return true;
            }
        }

        return false;
    }

    public bool TryReadUInt32(out uint value)
    {
        if (TryReadVarint(out var v) && v <= uint.MaxValue)
        {
            value = (uint)v;
            return true;
        }

        value = 0;
        return false;
    }

    public bool TryReadLength(int max, out int length)
    {
        if (TryReadVarint(out var v) && v <= (ulong)max && v <= (ulong)Remaining)
        {
            length = (int)v;
            return true;
        }

        length = 0;
        return false;
    }

    public bool TryReadSpan(int length, out ReadOnlySpan<byte> span)
    {
        if (length < 0 || length > Remaining)
        {
            span = default;
            return false;
        }

        span = _data.Slice(_position, length);
        _position += length;
        return true;
    }

    /// <summary>
    /// Varint length then UTF-8 bytes; rejects invalid UTF-8 and strings over <paramref name="maxBytes"/>.
    /// With a <paramref name="pool"/>, a string the node already holds is returned instead of a copy.
    /// </summary>
    public bool TryReadString(out string value, int maxBytes = MaxStringBytes, StringPool? pool = null)
    {
        value = "";
        if (!TryReadUtf8(maxBytes, out var bytes))
        {
            return false;
        }

        value = bytes.Length == 0 ? "" : pool is null ? Encoding.UTF8.GetString(bytes) : pool.Get(bytes, addIfMissing: false);
        return true;
    }

    /// <summary>Varint length then valid UTF-8 bytes of at most <paramref name="maxBytes"/>, without allocating.</summary>
    public bool TryReadUtf8(int maxBytes, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        return TryReadLength(maxBytes, out var length) && TryReadSpan(length, out bytes) && Utf8.IsValid(bytes);
    }

    public bool TryReadNonEmptyString(out string value, StringPool? pool = null) =>
        TryReadString(out value, MaxStringBytes, pool) && value.Length > 0;
}

/// <summary>
/// Append-only writer over a growable buffer, used for building messages; also the <see cref="IBufferWriter{T}"/> a
/// <see cref="MessagePack.MessagePackWriter"/> writes into.
/// </summary>
internal sealed class WireWriter : IBufferWriter<byte>
{
    private byte[] _buffer;

    public WireWriter(int initialCapacity) => _buffer = new byte[Math.Max(16, initialCapacity)];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    public void Clear() => Length = 0;

    public void WriteByte(byte value)
    {
        Ensure(1);
        _buffer[Length++] = value;
    }

    public void WriteVarint(ulong value)
    {
        Ensure(10);
        while (value >= 0x80)
        {
            _buffer[Length++] = (byte)(value | 0x80);
            value >>= 7;
        }

        _buffer[Length++] = (byte)value;
    }

    public void WriteBytes(ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(Length));
        Length += bytes.Length;
    }

    public void WriteString(string value)
    {
        var count = Encoding.UTF8.GetByteCount(value);
        WriteVarint((ulong)count);
        Ensure(count);
        Length += Encoding.UTF8.GetBytes(value, _buffer.AsSpan(Length));
    }

    /// <summary>Overwrites bytes at <paramref name="offset"/>, which must already be written.</summary>
    public void Patch(int offset, ReadOnlySpan<byte> bytes) => bytes.CopyTo(_buffer.AsSpan(offset));

    /// <summary>Inserts <paramref name="bytes"/> at <paramref name="offset"/>, shifting what follows.</summary>
    public void Insert(int offset, ReadOnlySpan<byte> bytes)
    {
        Ensure(bytes.Length);
        _buffer.AsSpan(offset, Length - offset).CopyTo(_buffer.AsSpan(offset + bytes.Length));
        bytes.CopyTo(_buffer.AsSpan(offset));
        Length += bytes.Length;
    }

    public byte[] ToArray() => WrittenSpan.ToArray();

    /// <inheritdoc/>
    public void Advance(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (Length + count > _buffer.Length)
        {
            throw new InvalidOperationException($"advanced {count} bytes past the {_buffer.Length - Length} obtained");
        }

        Length += count;
    }

    /// <inheritdoc/>
    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 16));
        return _buffer.AsMemory(Length);
    }

    /// <inheritdoc/>
    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(Math.Max(sizeHint, 16));
        return _buffer.AsSpan(Length);
    }

    public static int VarintSize(ulong value)
    {
        var size = 1;
        while (value >= 0x80)
        {
            value >>= 7;
            size++;
        }

        return size;
    }

    private void Ensure(int extra)
    {
        if (Length + extra > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, Length + extra));
        }
    }
}
