namespace WalrusGossip.Raft;

/// <summary>
/// Flow control for one follower in pipelined replication: the AppendEntries messages sent but not yet
/// acknowledged, bounded by a message count and a byte total (etcd/raft's tracker.Inflights).
/// </summary>
internal sealed class Inflights
{
    private readonly ulong[] _lastIndexes;
    private readonly ulong[] _sizes;
    private readonly ulong _maxBytes;
    private int _start;
    private int _count;
    private ulong _bytes;

    public Inflights(int maxMessages, ulong maxBytes)
    {
        _lastIndexes = new ulong[maxMessages];
        _sizes = new ulong[maxMessages];
        _maxBytes = maxBytes;
    }

    public int Count => _count;

    /// <summary>No more messages may be sent until some are acknowledged.</summary>
    public bool Full => _count == _lastIndexes.Length || (_maxBytes != 0 && _bytes >= _maxBytes);

    public void Add(ulong lastIndex, ulong bytes)
    {
        RaftInvariantViolationException.Check(!Full, "cannot add to full inflights");
        var slot = (_start + _count) % _lastIndexes.Length;
        _lastIndexes[slot] = lastIndex;
        _sizes[slot] = bytes;
        _count++;
        _bytes += bytes;
    }

    /// <summary>Frees every message whose last index is at or below <paramref name="index"/>.</summary>
    public void FreeLE(ulong index)
    {
        while (_count > 0 && _lastIndexes[_start] <= index)
        {
            _bytes -= _sizes[_start];
            _start = (_start + 1) % _lastIndexes.Length;
            _count--;
        }

        if (_count == 0)
        {
            _start = 0;
        }
    }

    public void Reset()
    {
        _start = 0;
        _count = 0;
        _bytes = 0;
    }
}
