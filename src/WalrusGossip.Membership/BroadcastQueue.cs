namespace WalrusGossip.Membership;

/// <summary>
/// Transmit-limited queue of membership updates awaiting piggybacking (SWIM §4.1, infection-style
/// dissemination; memberlist's <c>TransmitLimitedQueue</c>). Each update is sent at most
/// <c>RetransmitMultiplier × ceil(log10(n + 1))</c> times, least-sent first and newest first among
/// equals. A newer update about a member replaces any queued one about the same member. The queue
/// is bounded; when full, the most-sent (then oldest) update is dropped.
/// </summary>
internal sealed class BroadcastQueue
{
    private readonly List<Broadcast> _items = [];
    private readonly int _capacity;
    private long _nextId;

    public BroadcastQueue(int capacity) => _capacity = capacity;

    public int Count => _items.Count;

    /// <summary>Updates dropped because the queue was full.</summary>
    public long Dropped { get; private set; }

    /// <summary>Queues a framed message about <paramref name="member"/>, replacing older ones about it.</summary>
    public void Enqueue(string member, byte[] framedMessage)
    {
        for (var i = 0; i < _items.Count; i++)
        {
            if (string.Equals(_items[i].Member, member, StringComparison.Ordinal))
            {
                _items.RemoveAt(i);
                break;
            }
        }

        if (_items.Count >= _capacity)
        {
            var victim = 0;
            for (var i = 1; i < _items.Count; i++)
            {
                var a = _items[i];
                var b = _items[victim];
                if (a.Transmits > b.Transmits || (a.Transmits == b.Transmits && a.Id < b.Id))
                {
                    victim = i;
                }
            }

            _items.RemoveAt(victim);
            Dropped++;
        }

        _items.Add(new Broadcast(member, framedMessage, _nextId++));
    }

    /// <summary>
    /// Appends queued updates to <paramref name="packet"/> while they fit in
    /// <paramref name="maxPacketBytes"/>, counting a transmission for each and retiring those that
    /// reached <paramref name="transmitLimit"/>. Returns how many were appended.
    /// </summary>
    public int AppendTo(WireWriter packet, int maxPacketBytes, int transmitLimit)
    {
        if (_items.Count == 0)
        {
            return 0;
        }

        _items.Sort(static (a, b) => a.Transmits != b.Transmits ? a.Transmits.CompareTo(b.Transmits) : b.Id.CompareTo(a.Id));
        var appended = 0;
        for (var i = 0; i < _items.Count; i++)
        {
            var item = _items[i];
            if (packet.Length + item.Message.Length > maxPacketBytes)
            {
                continue;
            }

            packet.WriteBytes(item.Message);
            item.Transmits++;
            appended++;
        }

        var kept = 0;
        for (var i = 0; i < _items.Count; i++)
        {
            if (_items[i].Transmits < transmitLimit)
            {
                _items[kept++] = _items[i];
            }
        }

        _items.RemoveRange(kept, _items.Count - kept);
        return appended;
    }

    /// <summary>Retransmit limit for a cluster of <paramref name="members"/> (SWIM §4.1's λ·log n).</summary>
    public static int TransmitLimit(int retransmitMultiplier, int members) =>
        retransmitMultiplier * (int)Math.Ceiling(Math.Log10(members + 1));

    private sealed class Broadcast(string member, byte[] message, long id)
    {
        public string Member { get; } = member;

        public byte[] Message { get; } = message;

        public long Id { get; } = id;

        public int Transmits { get; set; }
    }
}
