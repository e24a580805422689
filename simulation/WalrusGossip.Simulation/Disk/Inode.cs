namespace WalrusGossip.Simulation.Disk;

/// <summary>
/// A simulated file's contents: what a reader sees now, what is on stable storage, and the unsynced operations
/// between the two, in issue order.
/// </summary>
internal sealed class Inode(long id)
{
    private byte[] _current = [];
    private byte[] _durable = [];
    private long _durableLength;
    private readonly List<PendingWrite> _pending = [];

    /// <summary>Creation order, for a deterministic crash walk.</summary>
    public long Id => id;

    /// <summary>Virtual time of the last write or length change (the file's mtime); kept through a crash.</summary>
    public DateTime LastWriteUtc { get; set; }

    /// <summary>Visible length in bytes.</summary>
    public long Length { get; private set; }

    /// <summary>End of the furthest byte ever written with data (not allocation), durable or not.</summary>
    public long WrittenEnd { get; private set; }

    public int Read(long offset, Span<byte> buffer)
    {
        if (offset >= Length)
        {
            return 0;
        }

        var count = (int)Math.Min(buffer.Length, Length - offset);
        _current.AsSpan((int)offset, count).CopyTo(buffer);
        return count;
    }

    public void Write(long offset, ReadOnlySpan<byte> data)
    {
        var end = offset + data.Length;
        Grow(ref _current, end);
        data.CopyTo(_current.AsSpan((int)offset));
        Length = Math.Max(Length, end);
        WrittenEnd = Math.Max(WrittenEnd, end);
        _pending.Add(new PendingWrite(offset, data.ToArray(), -1));
    }

    public void SetLength(long length)
    {
        Grow(ref _current, length);
        if (length < Length)
        {
            _current.AsSpan((int)length, (int)(Length - length)).Clear();
        }

        Length = length;
        WrittenEnd = Math.Min(WrittenEnd, length);
        _pending.Add(new PendingWrite(0, null, length));
    }

    /// <summary>Everything written so far becomes durable (fdatasync / fsync).</summary>
    public void Sync()
    {
        foreach (var write in _pending)
        {
            ApplyDurable(write, null);
        }

        _pending.Clear();
    }

    /// <summary>Keeps unsynced operations up to a random cut (the one at the cut torn by sector), then reverts to durable.</summary>
    public void Crash(Random random)
    {
        if (_pending.Count > 0)
        {
            var cut = random.Next(_pending.Count + 1);
            for (var i = 0; i < cut; i++)
            {
                ApplyDurable(_pending[i], null);
            }

            if (cut < _pending.Count)
            {
                ApplyDurable(_pending[cut], random);
            }

            _pending.Clear();
        }

        _current = (byte[])_durable.Clone();
        Length = _durableLength;
        WrittenEnd = Math.Min(WrittenEnd, Length);
    }

    public byte FlipDurableBit(long offset, int bit)
    {
        var original = _durable[offset];
        SetDurableByte(offset, (byte)(original ^ (1 << bit)));
        return original;
    }

    /// <summary>Lets <paramref name="change"/> edit a copy of the durable content, then writes the range it reports back (durable and visible).</summary>
    public bool ChangeDurable(Func<byte[], (long Offset, int Length)?> change)
    {
        var copy = _durable.AsSpan(0, (int)_durableLength).ToArray();
        if (change(copy) is not { } range)
        {
            return false;
        }

        for (var i = range.Offset; i < range.Offset + range.Length; i++)
        {
            SetDurableByte(i, copy[i]);
        }

        return true;
    }

    public void SetDurableByte(long offset, byte value)
    {
        _durable[offset] = value;
        if (offset < _current.Length)
        {
            _current[offset] = value;
        }
    }

    /// <summary>Applies one operation to the durable image; with <paramref name="tear"/>, only a random subset of a write's sectors lands.</summary>
    private void ApplyDurable(PendingWrite write, Random? tear)
    {
        if (write.Data is null)
        {
            Grow(ref _durable, write.NewLength);
            if (write.NewLength < _durableLength)
            {
                _durable.AsSpan((int)write.NewLength, (int)(_durableLength - write.NewLength)).Clear();
            }

            _durableLength = write.NewLength;
            return;
        }

        var end = write.Offset + write.Data.Length;
        Grow(ref _durable, end);
        if (tear is null)
        {
            write.Data.CopyTo(_durable.AsSpan((int)write.Offset));
            _durableLength = Math.Max(_durableLength, end);
            return;
        }

        var landed = false;
        for (var sector = write.Offset / SimulatedDisk.SectorBytes * SimulatedDisk.SectorBytes; sector < end; sector += SimulatedDisk.SectorBytes)
        {
            if (tear.Next(2) == 0)
            {
                continue;
            }

            var from = Math.Max(sector, write.Offset);
            var to = Math.Min(sector + SimulatedDisk.SectorBytes, end);
            write.Data.AsSpan((int)(from - write.Offset), (int)(to - from)).CopyTo(_durable.AsSpan((int)from));
            landed = true;
        }

        if (landed)
        {
            _durableLength = Math.Max(_durableLength, end);
        }
    }

    private static void Grow(ref byte[] buffer, long length)
    {
        if (length <= buffer.Length)
        {
            return;
        }

        var size = Math.Max(length, Math.Max(4096, buffer.Length * 2L));
        Array.Resize(ref buffer, (int)size);
    }

    private readonly record struct PendingWrite(long Offset, byte[]? Data, long NewLength);
}
