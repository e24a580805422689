namespace WalrusGossip.Raft.Tests.Support;

/// <summary>
/// A deterministic in-memory cluster: each node's Ready is handled as the documented contract says (persist,
/// then send, then apply, then Advance); messages wait in a queue until delivered, dropped or filtered.
/// </summary>
internal sealed class TestCluster
{
    private readonly HashSet<(ulong From, ulong To)> _cut = [];

    public TestCluster(int voters, int learners = 0, Action<RaftOptionsTemplate>? configure = null, ulong seed = 1)
    {
        var template = new RaftOptionsTemplate();
        configure?.Invoke(template);
        Template = template;
        Seed = seed;
        var voterIds = Enumerable.Range(1, voters).Select(i => (ulong)i).ToArray();
        var learnerIds = Enumerable.Range(voters + 1, learners).Select(i => (ulong)i).ToArray();
        var config = ClusterConfig.Create(voterIds, learnerIds);
        foreach (var id in voterIds.Concat(learnerIds))
        {
            Nodes[id] = new TestNode(id, MemoryRaftLogStorage.Bootstrap(config), OptionsFor);
        }
    }

    public RaftOptionsTemplate Template { get; }

    public ulong Seed { get; }

    public SortedDictionary<ulong, TestNode> Nodes { get; } = [];

    public List<RaftMessage> Queue { get; } = [];

    /// <summary>Every message handed to the network, for assertions.</summary>
    public List<RaftMessage> Sent { get; } = [];

    /// <summary>Extra filter: return false to drop a message at send time.</summary>
    public Func<RaftMessage, bool>? Filter { get; set; }

    public TestNode this[ulong id] => Nodes[id];

    public RaftOptions OptionsFor(ulong id, int restart) => Template.Build(id, (Seed * 1_000_003) + (id * 7919) + (ulong)restart);

    public TestNode AddNode(ulong id)
    {
        var node = new TestNode(id, new MemoryRaftLogStorage(), OptionsFor);
        Nodes[id] = node;
        return node;
    }

    public void Isolate(ulong id)
    {
        foreach (var other in Nodes.Keys)
        {
            if (other != id)
            {
                _cut.Add((id, other));
                _cut.Add((other, id));
            }
        }
    }

    public void Cut(ulong a, ulong b)
    {
        _cut.Add((a, b));
        _cut.Add((b, a));
    }

    public void Heal() => _cut.Clear();

    public bool CanReach(ulong from, ulong to) => !_cut.Contains((from, to));

    /// <summary>Handles every node's Ready until none has any.</summary>
    public void ProcessReadies()
    {
        foreach (var node in Nodes.Values)
        {
            ProcessReady(node);
        }
    }

    public void ProcessReady(TestNode node)
    {
        while (node.Raft.HasReady)
        {
            var ready = node.Raft.GetReady();
            if (ready.Snapshot is not null)
            {
                node.Storage.ApplySnapshot(ready.Snapshot);
            }

            if (ready.Entries.Length > 0)
            {
                node.Storage.Append(ready.Entries);
            }

            if (ready.HasHardState)
            {
                node.Storage.SetHardState(ready.HardState);
            }

            foreach (var message in ready.Messages)
            {
                Sent.Add(message);
                if (CanReach(message.From, message.To) && (Filter?.Invoke(message) ?? true) && Nodes.ContainsKey(message.To))
                {
                    Queue.Add(message);
                }
                else
                {
                    ReportDropped(message);
                }
            }

            if (ready.Snapshot is not null)
            {
                node.Applied.Clear();
                node.AppliedIndex = ready.Snapshot.Metadata.Index;
            }

            foreach (var entry in ready.CommittedEntries)
            {
                if (entry.Index != node.AppliedIndex + 1)
                {
                    throw new InvalidOperationException($"node {node.Id} applied {entry.Index} after {node.AppliedIndex}");
                }

                node.Applied[entry.Index] = entry;
                node.AppliedIndex = entry.Index;
            }

            node.ReadStates.AddRange(ready.ReadStates);
            node.Raft.Advance(ready);
        }
    }

    /// <summary>Delivers queued messages (and the messages they cause) until the network is quiet.</summary>
    public void Stabilize(int maxMessages = 100_000)
    {
        ProcessReadies();
        var delivered = 0;
        while (Queue.Count > 0)
        {
            var batch = Queue.ToArray();
            Queue.Clear();
            foreach (var message in batch)
            {
                Deliver(message);

                if (++delivered > maxMessages)
                {
                    throw new InvalidOperationException("the network did not quiesce");
                }
            }

            ProcessReadies();
        }
    }

    /// <summary>Steps a message into its target if the link is up, reporting snapshot delivery to the sender as a transport would.</summary>
    public void Deliver(RaftMessage message)
    {
        if (!CanReach(message.From, message.To) || !Nodes.TryGetValue(message.To, out var target))
        {
            ReportDropped(message);
            return;
        }

        target.Raft.Step(message);
        ProcessReady(target);
        if (message.Type == RaftMessageType.InstallSnapshot && Nodes.TryGetValue(message.From, out var sender))
        {
            sender.Raft.ReportSnapshot(message.To, success: true);
        }
    }

    /// <summary>A transport knows when a snapshot stream failed; tell the leader so it resumes probing.</summary>
    public void ReportDropped(RaftMessage message)
    {
        if (message.Type == RaftMessageType.InstallSnapshot && Nodes.TryGetValue(message.From, out var sender))
        {
            sender.Raft.ReportSnapshot(message.To, success: false);
        }
    }

    /// <summary>Ticks every node <paramref name="ticks"/> times, stabilising after each round.</summary>
    public void TickAll(int ticks = 1)
    {
        for (var t = 0; t < ticks; t++)
        {
            foreach (var node in Nodes.Values)
            {
                node.Raft.Tick();
            }

            Stabilize();
        }
    }

    public TestNode Elect(ulong id)
    {
        Nodes[id].Raft.Campaign();
        Stabilize();
        if (!Nodes[id].IsLeader)
        {
            throw new InvalidOperationException($"node {id} did not win the election: {Nodes[id].Status}");
        }

        return Nodes[id];
    }

    public IReadOnlyList<TestNode> Leaders() => Nodes.Values.Where(n => n.IsLeader).ToList();

    public ProposalResult Propose(ulong id, string text)
    {
        var result = Nodes[id].Raft.Propose(System.Text.Encoding.UTF8.GetBytes(text));
        Stabilize();
        return result;
    }
}

/// <summary>Options shared by every node of a test cluster; the id and the seeded random are filled in per node.</summary>
internal sealed class RaftOptionsTemplate
{
    public int ElectionTicks { get; set; } = 10;

    public int HeartbeatTicks { get; set; } = 1;

    public bool PreVote { get; set; } = true;

    public bool CheckQuorum { get; set; } = true;

    public ReadConsistency ReadConsistency { get; set; } = ReadConsistency.ReadIndex;

    public ulong MaxAppendBytes { get; set; } = 64 * 1024;

    public int MaxInflightMessages { get; set; } = 16;

    public ulong MaxInflightBytes { get; set; } = 1 << 20;

    public RaftOptions Build(ulong id, ulong seed) => new()
    {
        Id = id,
        Random = new SeededRaftRandom(seed),
        ElectionTicks = ElectionTicks,
        HeartbeatTicks = HeartbeatTicks,
        PreVote = PreVote,
        CheckQuorum = CheckQuorum,
        ReadConsistency = ReadConsistency,
        MaxAppendBytes = MaxAppendBytes,
        MaxInflightMessages = MaxInflightMessages,
        MaxInflightBytes = MaxInflightBytes,
    };
}
