namespace WalrusGossip.Raft.Tests.Support;

/// <summary>A Raft node plus what a real node loop would own: its storage and the entries its state machine applied.</summary>
internal sealed class TestNode
{
    private readonly Func<ulong, int, RaftOptions> _optionsFactory;
    private int _restarts;

    public TestNode(ulong id, MemoryRaftLogStorage storage, Func<ulong, int, RaftOptions> optionsFactory)
    {
        Id = id;
        Storage = storage;
        _optionsFactory = optionsFactory;
        Raft = new RaftNode(optionsFactory(id, 0), storage);
    }

    public ulong Id { get; }

    public MemoryRaftLogStorage Storage { get; }

    public RaftNode Raft { get; private set; }

    /// <summary>Applied entries by index since the last restart (the in-memory state machine).</summary>
    public SortedDictionary<ulong, LogEntry> Applied { get; } = [];

    public ulong AppliedIndex { get; set; }

    public List<ReadState> ReadStates { get; } = [];

    public RaftStatus Status => Raft.Status;

    public bool IsLeader => Raft.Status.Role == RaftRole.Leader;

    /// <summary>Crash and restart from the persisted storage: unpersisted state and the state machine are lost.</summary>
    public void Restart()
    {
        _restarts++;
        Raft = new RaftNode(_optionsFactory(Id, _restarts), Storage);
        Applied.Clear();
        AppliedIndex = Storage.Snapshot.Index;
        ReadStates.Clear();
    }

    /// <summary>Log entry at <paramref name="index"/> as the node currently sees it (stable or unstable), or null.</summary>
    public LogEntry? EntryAt(ulong index)
    {
        var log = Raft.Log;
        if (index < log.FirstIndex || index > log.LastIndex)
        {
            return null;
        }

        var slice = log.Slice(index, index + 1, ulong.MaxValue);
        return slice is { Count: 1 } ? slice[0] : null;
    }
}
