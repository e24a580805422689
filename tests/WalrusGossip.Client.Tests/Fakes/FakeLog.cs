using Google.Protobuf;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client.Tests.Fakes;

/// <summary>
/// The replicated log of a fake cluster: entries in index order, and the client sessions table that answers a retried
/// (client id, sequence) with its original index instead of storing it again (Raft dissertation §6.3). Like the
/// real session table it refuses, as expired, a sequence it does not know that is below the session's highest.
/// </summary>
internal sealed class FakeLog
{
    private readonly Lock _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly Dictionary<(ulong ClientId, ulong Sequence), ulong> _sessions = [];
    private readonly Dictionary<ulong, ulong> _highestSequence = [];
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ulong Term { get; init; } = 3;

    /// <summary>Every (client id, sequence) an append arrived with, duplicates included, in arrival order.</summary>
    public List<(ulong ClientId, ulong Sequence)> Arrivals { get; } = [];

    public ulong LastIndex
    {
        get
        {
            lock (_lock)
            {
                return (ulong)_entries.Count;
            }
        }
    }

    public Entry[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _entries];
        }
    }

    /// <summary>Stores the entry unless its (client id, sequence) was seen; returns its index either way, or 0 when the sequence is expired.</summary>
    public ulong Append(ulong clientId, ulong sequence, string stream, ByteString payload)
    {
        TaskCompletionSource changed;
        ulong index;
        lock (_lock)
        {
            Arrivals.Add((clientId, sequence));
            if (clientId != 0 && _sessions.TryGetValue((clientId, sequence), out var original))
            {
                return original;
            }

            if (clientId != 0 && _highestSequence.TryGetValue(clientId, out var highest) && sequence < highest)
            {
                return 0;
            }

            index = (ulong)_entries.Count + 1;
            _entries.Add(new Entry { Index = index, Term = Term, Stream = stream, Payload = payload });
            if (clientId != 0)
            {
                _sessions[(clientId, sequence)] = index;
                _highestSequence[clientId] = Math.Max(sequence, _highestSequence.GetValueOrDefault(clientId));
            }

            changed = _changed;
            _changed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        changed.TrySetResult();
        return index;
    }

    /// <summary>Entries from <paramref name="from"/> on (at most <paramref name="max"/>), and a task that completes on the next append.</summary>
    public (Entry[] Entries, Task Changed) ReadFrom(ulong from, int max)
    {
        lock (_lock)
        {
            var start = (int)Math.Min((ulong)_entries.Count, from - 1);
            var count = Math.Min(max, _entries.Count - start);
            return ([.. _entries.GetRange(start, count)], _changed.Task);
        }
    }
}
