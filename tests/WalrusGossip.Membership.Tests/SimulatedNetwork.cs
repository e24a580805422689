namespace WalrusGossip.Membership.Tests;

/// <summary>
/// Deterministic discrete-event network for driving many <see cref="MembershipNode"/>s under
/// virtual time. Seeded: the same seed replays the same run. Datagrams can be lost (random loss
/// rate) and are delayed uniformly in [MinDelay, MaxDelay]; streams are reliable but delayed.
/// Nodes in different partition groups cannot reach each other; crashed nodes neither send nor
/// receive nor tick. Ticks are scheduled exactly at each node's <see cref="MembershipNode.NextDeadline"/>.
/// </summary>
internal sealed class SimulatedNetwork
{
    private readonly PriorityQueue<SimEvent, (long Ticks, long Order)> _queue = new();
    private readonly Dictionary<string, int> _byAddress = new(StringComparer.Ordinal);
    private readonly Random _random;
    private readonly List<OutboundMessage> _outbox = [];
    private readonly List<MembershipEvent> _events = [];
    private readonly List<MembershipLogEntry> _log = [];
    private long _order;

    public SimulatedNetwork(int seed, int nodeCount, MembershipOptions options, Func<int, MembershipOptions>? perNodeOptions = null)
    {
        _random = new Random(seed);
        Nodes = new SimNode[nodeCount];
        for (var i = 0; i < nodeCount; i++)
        {
            var name = NameOf(i);
            var address = AddressOf(i);
            var metadata = new Dictionary<string, string>
            {
                [MetadataKeys.GossipAddress] = address,
                [MetadataKeys.Version] = "0.1.0",
            };
            var node = new MembershipNode(name, address, perNodeOptions?.Invoke(i) ?? options, new Random(seed * 1000 + i), Now, metadata);
            Nodes[i] = new SimNode(i, node);
            _byAddress.Add(address, i);
        }

        for (var i = 0; i < nodeCount; i++)
        {
            AfterInput(i);
        }
    }

    public SimNode[] Nodes { get; }

    public TimeSpan Now { get; private set; }

    public double LossRate { get; set; }

    public TimeSpan MinDelay { get; set; } = TimeSpan.FromMilliseconds(1);

    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Partition group per node; messages between different groups are dropped. Null = no partition.</summary>
    public int[]? PartitionGroups { get; set; }

    public long DatagramsDelivered { get; private set; }

    public long DatagramsDropped { get; private set; }

    /// <summary>Called for every message sent: (from, to, message, delivered).</summary>
    public Action<int, int, OutboundMessage, bool>? OnSend { get; set; }

    /// <summary>Called for every membership event of every node: (observer index, event).</summary>
    public Action<int, MembershipEvent>? OnEvent { get; set; }

    public static string NameOf(int i) => $"n{i:D2}";

    public static string AddressOf(int i) => $"10.0.{i / 250}.{i % 250 + 1}:7946";

    /// <summary>Every node except the first joins through the first (push-pull with a seed).</summary>
    public void JoinAllThroughFirst()
    {
        for (var i = 1; i < Nodes.Length; i++)
        {
            Nodes[i].Node.Join(Now, [AddressOf(0)]);
            AfterInput(i);
        }
    }

    public void Crash(int i) => Nodes[i].Crashed = true;

    /// <summary>Replaces node <paramref name="i"/> with a fresh process of the same name and address (incarnation 0).</summary>
    public void Restart(int i, MembershipOptions options, int seed)
    {
        var name = NameOf(i);
        var node = new MembershipNode(name, AddressOf(i), options, new Random(seed), Now);
        Nodes[i] = new SimNode(i, node);
        AfterInput(i);
    }

    public void Leave(int i)
    {
        Nodes[i].Node.Leave(Now);
        AfterInput(i);
    }

    public void Act(int i, Action<MembershipNode, TimeSpan> action)
    {
        action(Nodes[i].Node, Now);
        AfterInput(i);
    }

    /// <summary>Delivers a datagram now, bypassing loss and partitions.</summary>
    public void Inject(int to, string fromAddress, byte[] datagram)
    {
        Nodes[to].Node.ReceiveDatagram(Now, fromAddress, datagram);
        AfterInput(to);
    }

    public void RunFor(TimeSpan duration) => RunUntil(Now + duration);

    public void RunUntil(TimeSpan end)
    {
        while (_queue.TryPeek(out _, out var key) && key.Ticks <= end.Ticks)
        {
            var e = _queue.Dequeue();
            Now = TimeSpan.FromTicks(key.Ticks);
            Process(e);
        }

        Now = end;
    }

    /// <summary>Runs in steps of <paramref name="step"/> until <paramref name="done"/> holds or <paramref name="limit"/> passes.</summary>
    /// <returns>Virtual time at which <paramref name="done"/> first held, or null.</returns>
    public TimeSpan? RunUntil(Func<bool> done, TimeSpan limit, TimeSpan step)
    {
        var end = Now + limit;
        while (Now < end)
        {
            if (done())
            {
                return Now;
            }

            RunUntil(Now + step);
        }

        return done() ? Now : null;
    }

    public bool AllLiveViewsHave(int liveMembers)
    {
        foreach (var n in Nodes)
        {
            if (!n.Crashed && !n.Node.HasLeft && n.Node.LiveMemberCount != liveMembers)
            {
                return false;
            }
        }

        return true;
    }

    public MemberSnapshot ViewOf(int observer, int member)
    {
        var name = NameOf(member);
        foreach (var s in Nodes[observer].Node.GetSnapshot(Now))
        {
            if (s.Name == name)
            {
                return s;
            }
        }

        return default;
    }

    private void Process(SimEvent e)
    {
        var node = Nodes[e.To];
        if (node.Crashed)
        {
            return;
        }

        switch (e.Kind)
        {
            case SimEventKind.Tick:
                if (node.ScheduledTick != Now)
                {
                    return;
                }

                node.ScheduledTick = TimeSpan.MaxValue;
                node.Node.Tick(Now);
                break;
            case SimEventKind.Datagram:
                DatagramsDelivered++;
                node.Node.ReceiveDatagram(Now, e.From, e.Payload);
                break;
            case SimEventKind.Stream:
                node.Node.ReceiveStream(Now, e.From, e.Payload);
                break;
        }

        AfterInput(e.To);
    }

    private void AfterInput(int i)
    {
        var node = Nodes[i];
        node.Node.DrainMessages(_outbox);
        foreach (var message in _outbox)
        {
            Send(i, message);
        }

        _outbox.Clear();
        node.Node.DrainEvents(_events);
        foreach (var e in _events)
        {
            node.Events.Add(e);
            OnEvent?.Invoke(i, e);
        }

        _events.Clear();
        node.LogLines += node.Node.DrainLog(_log);
        _log.Clear();

        var next = node.Node.NextDeadline;
        if (next <= Now)
        {
            next = Now + TimeSpan.FromMilliseconds(1);
        }

        if (next < node.ScheduledTick)
        {
            node.ScheduledTick = next;
            Enqueue(next, new SimEvent(SimEventKind.Tick, i, "", []));
        }
    }

    private void Send(int from, OutboundMessage message)
    {
        if (Nodes[from].Crashed || !_byAddress.TryGetValue(message.To, out var to))
        {
            return;
        }

        if ((PartitionGroups is { } groups && groups[from] != groups[to])
            || (message.Kind == OutboundKind.Datagram && LossRate > 0 && _random.NextDouble() < LossRate))
        {
            DatagramsDropped++;
            OnSend?.Invoke(from, to, message, false);
            return;
        }

        OnSend?.Invoke(from, to, message, true);
        var delay = MinDelay + TimeSpan.FromTicks((long)(_random.NextDouble() * (MaxDelay - MinDelay).Ticks));
        var kind = message.Kind == OutboundKind.Datagram ? SimEventKind.Datagram : SimEventKind.Stream;
        Enqueue(Now + delay, new SimEvent(kind, to, AddressOf(from), message.Payload));
    }

    private void Enqueue(TimeSpan at, SimEvent e) => _queue.Enqueue(e, (at.Ticks, _order++));

    private enum SimEventKind
    {
        Tick,
        Datagram,
        Stream,
    }

    private sealed record SimEvent(SimEventKind Kind, int To, string From, byte[] Payload);
}

internal sealed class SimNode(int index, MembershipNode node)
{
    public int Index { get; } = index;

    public MembershipNode Node { get; } = node;

    public bool Crashed { get; set; }

    public TimeSpan ScheduledTick { get; set; } = TimeSpan.MaxValue;

    public List<MembershipEvent> Events { get; } = [];

    public long LogLines { get; set; }
}
