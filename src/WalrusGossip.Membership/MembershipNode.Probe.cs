namespace WalrusGossip.Membership;

/// <summary>
/// Failure detection (SWIM §3.1, §4.3): one probe per protocol period to a member chosen by
/// randomised round-robin; ping, then ping-req through k members after the probe timeout, then
/// suspicion when the period ends without an ack. Also answers pings and runs ping-req probes for
/// others, with Lifeguard nacks.
/// </summary>
public sealed partial class MembershipNode
{
    private readonly List<string> _probeOrder = [];
    private readonly List<IndirectProbe> _forwards = [];
    private int _probeIndex;
    private TimeSpan _nextProbeAt;
    private ActiveProbe? _probe;
    private uint _sequence;

    private void RunProbeTimers()
    {
        if (_leaving)
        {
            return;
        }

        if (_probe is { } probe)
        {
            if (!probe.IndirectSent && _now >= probe.IndirectAt)
            {
                SendIndirectProbes(probe);
            }

            if (_now >= probe.DeadlineAt)
            {
                ConcludeFailedProbe(probe);
            }
        }

        if (_probe is null && _now >= _nextProbeAt)
        {
            ReapTombstones();
            var interval = _options.LifeguardEnabled ? _health.Scale(_options.ProbeInterval) : _options.ProbeInterval;
            _nextProbeAt = _now + interval;
            if (NextProbeTarget() is { } target)
            {
                StartProbe(target, interval);
            }
        }
    }

    /// <summary>
    /// Lifeguard buddy system, extended: a suspect this node has neither accused nor probed during
    /// the current suspicion is probed first (oldest suspicion first), so the suspect hears of the
    /// suspicion directly and independent confirmations arrive within a period. Otherwise the next
    /// live member in the shuffled round-robin order (SWIM §4.3).
    /// </summary>
    private Member? NextProbeTarget()
    {
        if (_options.LifeguardEnabled)
        {
            Member? oldest = null;
            foreach (var m in _members.Values)
            {
                if (m.Suspicion is { ProbedByLocal: false } s && !s.HasAccused(_local.Name)
                    && (oldest is null || s.Start < oldest.Suspicion!.Start))
                {
                    oldest = m;
                }
            }

            if (oldest is not null)
            {
                oldest.Suspicion!.ProbedByLocal = true;
                return oldest;
            }
        }

        for (var steps = 0; steps <= _probeOrder.Count; steps++)
        {
            if (_probeIndex >= _probeOrder.Count)
            {
                ReshuffleProbeOrder();
            }

            var name = _probeOrder[_probeIndex++];
            if (_members.TryGetValue(name, out var m) && !ReferenceEquals(m, _local) && m.IsLive)
            {
                return m;
            }
        }

        return null;
    }

    private void ReshuffleProbeOrder()
    {
        _probeOrder.Clear();
        foreach (var name in _members.Keys)
        {
            _probeOrder.Add(name);
        }

        _probeOrder.Sort(StringComparer.Ordinal);
        for (var i = _probeOrder.Count - 1; i > 0; i--)
        {
            var j = _random.Next(i + 1);
            (_probeOrder[i], _probeOrder[j]) = (_probeOrder[j], _probeOrder[i]);
        }

        _probeIndex = 0;
    }

    /// <summary>A new member goes to a random position of the round-robin order (SWIM §4.3).</summary>
    private void AddToProbeOrder(string name)
    {
        _probeOrder.Add(name);
        var j = _random.Next(_probeOrder.Count);
        var last = _probeOrder.Count - 1;
        (_probeOrder[last], _probeOrder[j]) = (_probeOrder[j], _probeOrder[last]);
    }

    private void StartProbe(Member target, TimeSpan interval)
    {
        var timeout = _options.LifeguardEnabled ? _health.Scale(_options.ProbeTimeout) : _options.ProbeTimeout;
        var probe = new ActiveProbe(++_sequence, target.Name, _now + timeout, _now + interval);
        _probe = probe;
        BeginPacket();
        AppendMessage(GossipMessage.Ping(probe.Sequence, target.Name, _local.Name, _local.Address));
        if (_options.LifeguardEnabled && target.State == MemberState.Suspect)
        {
            AppendMessage(GossipMessage.Suspect(target.Incarnation, target.Name, _local.Name));
        }

        SendPacket(target.Address);
    }

    private void SendIndirectProbes(ActiveProbe probe)
    {
        probe.IndirectSent = true;
        if (!_members.TryGetValue(probe.Target, out var target))
        {
            return;
        }

        _scratch.Clear();
        foreach (var m in _members.Values)
        {
            if (m.State == MemberState.Alive && !ReferenceEquals(m, _local) && !ReferenceEquals(m, target))
            {
                _scratch.Add(m);
            }
        }

        _scratch.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var count = Math.Min(_options.IndirectChecks, _scratch.Count);
        for (var i = 0; i < count; i++)
        {
            var j = i + _random.Next(_scratch.Count - i);
            (_scratch[i], _scratch[j]) = (_scratch[j], _scratch[i]);
            BeginPacket();
            AppendMessage(GossipMessage.PingReq(probe.Sequence, target.Name, target.Address, _local.Name, _options.LifeguardEnabled));
            SendPacket(_scratch[i].Address);
        }

        probe.ExpectedNacks = _options.LifeguardEnabled ? count : 0;
    }

    private void ConcludeFailedProbe(ActiveProbe probe)
    {
        _probe = null;
        Counters.FailedProbes++;
        if (_options.LifeguardEnabled)
        {
            // Lifeguard: missing nacks mean our own messages are not getting through.
            _health.ApplyDelta(probe.ExpectedNacks > 0 ? probe.ExpectedNacks - probe.Nacks : 1);
        }

        if (_members.TryGetValue(probe.Target, out var target) && target.IsLive)
        {
            OnSuspect(target.Incarnation, target.Name, _local.Name);
        }
    }

    private void OnPing(string fromAddress, in GossipMessage ping)
    {
        if (!string.Equals(ping.Member, _local.Name, StringComparison.Ordinal))
        {
            Counters.MisdirectedPings++;
            Log(MembershipLogLevel.Warning, $"ping for '{ping.Member}' from {fromAddress} ignored: this node is '{_local.Name}'");
            return;
        }

        BeginPacket();
        AppendMessage(GossipMessage.Ack(ping.Seq));
        if (_members.TryGetValue(ping.From, out var sender) && sender.State == MemberState.Dead)
        {
            // Tell a member we hold as dead that it is dead, so it refutes (helps healed partitions).
            AppendMessage(GossipMessage.Dead(sender.Incarnation, sender.Name, _local.Name));
        }

        SendPacket(fromAddress);
    }

    private void OnPingReq(string fromAddress, in GossipMessage request)
    {
        if (_forwards.Count >= _options.MaxPendingIndirectProbes)
        {
            Counters.IndirectProbesDropped++;
            Log(MembershipLogLevel.Warning, $"ping-req from {request.From} for {request.Member} dropped: {_forwards.Count} already in flight");
            return;
        }

        var sequence = ++_sequence;
        // Answer (ack or nack) before the requester's probe period ends: it sent the ping-req one
        // probe timeout into a period at least twice as long, so 80% of a probe timeout leaves
        // room for the two network hops back.
        _forwards.Add(new IndirectProbe(sequence, request.Seq, fromAddress, _now + (_options.ProbeTimeout * 0.8), request.WantNack));
        BeginPacket();
        AppendMessage(GossipMessage.Ping(sequence, request.Member, _local.Name, _local.Address));
        SendPacket(request.Address);
    }

    private void OnAck(uint sequence)
    {
        if (_probe is { } probe && probe.Sequence == sequence)
        {
            if (_options.LifeguardEnabled && _now < probe.IndirectAt)
            {
                _health.ApplyDelta(-1);
            }

            _probe = null;
            return;
        }

        for (var i = 0; i < _forwards.Count; i++)
        {
            var forward = _forwards[i];
            if (forward.Sequence == sequence)
            {
                _forwards.RemoveAt(i);
                BeginPacket();
                AppendMessage(GossipMessage.Ack(forward.RequesterSequence));
                SendPacket(forward.Requester);
                return;
            }
        }
    }

    private void OnNack(uint sequence)
    {
        if (_probe is { } probe && probe.Sequence == sequence)
        {
            probe.Nacks++;
        }
    }

    private void ExpireIndirectProbes()
    {
        for (var i = _forwards.Count - 1; i >= 0; i--)
        {
            var forward = _forwards[i];
            if (_now < forward.Deadline)
            {
                continue;
            }

            _forwards.RemoveAt(i);
            if (forward.WantNack)
            {
                BeginPacket();
                AppendMessage(GossipMessage.Nack(forward.RequesterSequence));
                SendPacket(forward.Requester);
            }
        }
    }

    /// <summary>The probe this node is running in the current protocol period.</summary>
    private sealed class ActiveProbe(uint sequence, string target, TimeSpan indirectAt, TimeSpan deadlineAt)
    {
        public uint Sequence { get; } = sequence;

        public string Target { get; } = target;

        public TimeSpan IndirectAt { get; } = indirectAt;

        public TimeSpan DeadlineAt { get; } = deadlineAt;

        public bool IndirectSent { get; set; }

        public int ExpectedNacks { get; set; }

        public int Nacks { get; set; }
    }

    /// <summary>A ping this node sent on behalf of a ping-req.</summary>
    private readonly record struct IndirectProbe(uint Sequence, uint RequesterSequence, string Requester, TimeSpan Deadline, bool WantNack);
}
