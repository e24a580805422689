namespace WalrusGossip.Storage.Segments;

/// <summary>
/// Encoded records waiting for one group commit, with the waiters to complete once they are written.
/// Two instances alternate: appenders fill one while the writer thread writes the other.
/// </summary>
internal sealed class WriteBatch
{
    private int[] _starts = new int[256];
    private ulong[] _terms = new ulong[256];
    private AppendWaiter[] _waiters = new AppendWaiter[64];
    private ulong[] _waiterIndexes = new ulong[64];

    /// <summary>Bytes a batch's buffer starts with, and shrinks back to in <see cref="ReleaseMemory"/>.</summary>
    private const int InitialBufferBytes = 64 << 10;

    private readonly int _capacityBytes;

    /// <summary>Creates an empty batch whose buffer grows on demand up to <paramref name="capacityBytes"/>.</summary>
    /// <param name="capacityBytes">Most bytes of records one batch holds (Storage:MaxBatchBytes).</param>
    public WriteBatch(int capacityBytes)
    {
        _capacityBytes = capacityBytes;
        Buffer = new byte[Math.Min(capacityBytes, InitialBufferBytes)];
    }

    /// <summary>The encoded records, <see cref="Length"/> bytes of it in use. Replaced when it grows: do not keep it across <see cref="Add"/>.</summary>
    public byte[] Buffer { get; private set; }

    public int Length { get; private set; }

    public int Count { get; private set; }

    public ulong FirstIndex { get; private set; }

    public int WaiterCount { get; private set; }

    public bool HasRoomFor(int recordBytes) => Count == 0 || Length + recordBytes <= _capacityBytes;

    /// <summary>Drops a buffer that grew under load back to its initial size. Only for an empty batch nobody is writing.</summary>
    public void ReleaseMemory()
    {
        if (Count == 0 && Buffer.Length > InitialBufferBytes)
        {
            Buffer = new byte[InitialBufferBytes];
            _starts = new int[256];
            _terms = new ulong[256];
        }
    }

    public void Add(ulong index, ulong term, EntryType type, byte flags, ReadOnlySpan<byte> payload)
    {
        if (Count == 0)
        {
            FirstIndex = index;
        }

        if (Count == _starts.Length)
        {
            Array.Resize(ref _starts, Count * 2);
            Array.Resize(ref _terms, Count * 2);
        }

        var needed = Length + RecordHeader.Size + payload.Length;
        if (needed > Buffer.Length)
        {
            var grown = new byte[Math.Max(needed, (int)Math.Min((long)Buffer.Length * 2, Math.Max(_capacityBytes, needed)))];
            Buffer.AsSpan(0, Length).CopyTo(grown);
            Buffer = grown;
        }

        _starts[Count] = Length;
        _terms[Count] = term;
        Count++;
        Length += RecordHeader.Encode(Buffer.AsSpan(Length), index, term, type, flags, payload);
    }

    public void AddWaiter(AppendWaiter waiter, ulong index)
    {
        if (WaiterCount == _waiters.Length)
        {
            Array.Resize(ref _waiters, WaiterCount * 2);
            Array.Resize(ref _waiterIndexes, WaiterCount * 2);
        }

        _waiters[WaiterCount] = waiter;
        _waiterIndexes[WaiterCount] = index;
        WaiterCount++;
    }

    public int StartOf(int record) => record < Count ? _starts[record] : Length;

    public ulong TermOf(int record) => _terms[record];

    public void CompleteAll()
    {
        for (var i = 0; i < WaiterCount; i++)
        {
            _waiters[i].Complete(_waiterIndexes[i]);
            _waiters[i] = null!;
        }
    }

    public void FailAll(Exception error)
    {
        for (var i = 0; i < WaiterCount; i++)
        {
            _waiters[i].Fail(error);
            _waiters[i] = null!;
        }
    }

    public void Clear()
    {
        Length = 0;
        Count = 0;
        WaiterCount = 0;
    }
}
