namespace WalrusGossip.Raft;

/// <summary>
/// ReadIndex requests waiting for a heartbeat round to confirm leadership (dissertation §6.4, step 3).
/// Requests are released in arrival order: a quorum acknowledging a later request also confirms every earlier one.
/// </summary>
internal sealed class ReadIndexTracker
{
    private readonly List<PendingRead> _queue = [];

    public int Count => _queue.Count;

    /// <summary>Context of the newest request, carried by heartbeats; empty when none is pending.</summary>
    public ReadOnlyMemory<byte> LastContext => _queue.Count == 0 ? ReadOnlyMemory<byte>.Empty : _queue[^1].Context;

    public void Add(ulong index, ReadOnlyMemory<byte> context, ulong from) =>
        _queue.Add(new PendingRead(index, context, from, []));

    /// <summary>Records <paramref name="voter"/>'s acknowledgement of <paramref name="context"/>; returns the requests a quorum has now confirmed.</summary>
    public List<PendingRead>? Acknowledge(ulong voter, ReadOnlySpan<byte> context, ClusterConfig config)
    {
        for (var i = 0; i < _queue.Count; i++)
        {
            var read = _queue[i];
            if (!read.Context.Span.SequenceEqual(context))
            {
                continue;
            }

            if (config.IsVoter(voter))
            {
                read.Acks.Add(voter);
            }

            if (read.Acks.Count < config.Quorum)
            {
                return null;
            }

            var released = _queue.GetRange(0, i + 1);
            _queue.RemoveRange(0, i + 1);
            return released;
        }

        return null;
    }

    public void Reset() => _queue.Clear();

    internal sealed record PendingRead(ulong Index, ReadOnlyMemory<byte> Context, ulong From, HashSet<ulong> Acks);
}
