namespace WalrusGossip.Client;

/// <summary>
/// The client sessions (Raft dissertation §6.3) a <see cref="WalrusClient"/> appends through. Each lane is one
/// session id with its own sequence numbers and carries at most one append request at a time, retries included:
/// the next sequence of a lane is sent only once the previous one was answered (or given up). That keeps every
/// lane's sequences arriving and applying in order, which the cluster's session table relies on: it remembers a
/// session's highest applied sequence and its recent answers, and refuses an unknown sequence below the highest as
/// expired. Concurrent requests use separate lanes, up to <see cref="WalrusClientOptions.MaxConcurrentAppends"/>;
/// appends that arrive while every lane is busy wait and are coalesced into the next free lane's request (see
/// WalrusClient.Appends.cs). Lane 0's id is <see cref="WalrusClientOptions.ClientId"/>; lane k's id is derived
/// from it.
/// </summary>
internal sealed class SessionLanes
{
    private readonly ulong _baseClientId;
    private readonly Stack<Lane> _idle = new();
    private readonly Lock _lock = new();
    private int _created;

    /// <summary>Creates the pool; lanes are made on first use.</summary>
    /// <param name="baseClientId">The first lane's session id; the others are derived from it.</param>
    public SessionLanes(ulong baseClientId) => _baseClientId = baseClientId;

    /// <summary>Takes an idle lane or makes a new one. The caller bounds how many are out at once.</summary>
    /// <returns>A lane no one else uses until it is returned.</returns>
    public Lane Take()
    {
        lock (_lock)
        {
            if (_idle.TryPop(out var lane))
            {
                return lane;
            }

            return new Lane(LaneClientId(_baseClientId, _created++));
        }
    }

    /// <summary>Gives a lane back after its request finished (successfully or not).</summary>
    /// <param name="lane">A lane from <see cref="Take"/>.</param>
    public void Return(Lane lane)
    {
        lock (_lock)
        {
            _idle.Push(lane);
        }
    }

    internal static ulong LaneClientId(ulong baseClientId, int lane)
    {
        if (lane == 0)
        {
            return baseClientId;
        }

        var z = baseClientId + (0x9E3779B97F4A7C15UL * (ulong)lane);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return z == 0 ? 1 : z;
    }

    /// <summary>One session: its id and the next sequence number to use.</summary>
    internal sealed class Lane
    {
        private ulong _nextSequence = 1;

        public Lane(ulong clientId) => ClientId = clientId;

        public ulong ClientId { get; }

        /// <summary>Takes <paramref name="count"/> consecutive sequence numbers and returns the first.</summary>
        public ulong Reserve(int count)
        {
            var first = _nextSequence;
            _nextSequence += (ulong)count;
            return first;
        }
    }
}
