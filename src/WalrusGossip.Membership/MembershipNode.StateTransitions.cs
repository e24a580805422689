namespace WalrusGossip.Membership;

/// <summary>
/// How alive, suspect, dead and left messages change the local view. Incarnation numbers order
/// every claim about a member (SWIM §4.2): a higher incarnation wins; at equal incarnation
/// suspect beats alive and dead/left beat both. Dead and left members stay as tombstones so that
/// only a strictly higher incarnation — a real refutation or a rejoin — can bring them back.
/// </summary>
public sealed partial class MembershipNode
{
    /// <summary>
    /// Applies an alive message: learns a new member, accepts a higher incarnation (refutation,
    /// metadata update or rejoin after a tombstone), or refutes a claim about this node.
    /// </summary>
    /// <param name="alive">The update; its metadata may still be encoded in <paramref name="source"/>.</param>
    /// <param name="source">The buffer the update was decoded from (empty for local updates).</param>
    private void OnAlive(in GossipMessage alive, ReadOnlyMemory<byte> source)
    {
        if (alive.MetadataTooLarge)
        {
            Log(MembershipLogLevel.Warning, $"alive for '{alive.Member}' ignored: metadata over {_options.MaxMetadataBytes} bytes");
            return;
        }

        IReadOnlyDictionary<string, string>? metadata;
        if (string.Equals(alive.Member, _local.Name, StringComparison.Ordinal))
        {
            if (_leaving || alive.Incarnation < _local.Incarnation)
            {
                return;
            }

            if (alive.Incarnation > _local.Incarnation)
            {
                Refute(alive.Incarnation, $"alive claim about this node at incarnation {alive.Incarnation}");
            }
            else if ((metadata = ResolveMetadata(alive, source)) is not null
                && (!Metadata.AreEqual(metadata, _local.Metadata) || !string.Equals(alive.Address, _local.Address, StringComparison.Ordinal)))
            {
                Refute(alive.Incarnation, $"conflicting alive claim about this node at incarnation {alive.Incarnation}");
            }

            return;
        }

        // Stale updates about known members return here, before their metadata is materialised.
        _members.TryGetValue(alive.Member, out var member);
        if ((member is not null && alive.Incarnation <= member.Incarnation) || (metadata = ResolveMetadata(alive, source)) is null)
        {
            return;
        }

        if (member is null)
        {
            member = new Member(alive.Member, alive.Address, alive.Incarnation, metadata, _now);
            _members.Add(member.Name, member);
            _pool.Add(member.Name);
            _pool.Add(member.Address);
            AddToProbeOrder(member.Name);
            Emit(MembershipEventKind.Joined, member);
            BroadcastAlive(member);
            return;
        }

        var previous = member.State;
        var changed = !Metadata.AreEqual(metadata, member.Metadata)
            || !string.Equals(alive.Address, member.Address, StringComparison.Ordinal);
        member.Incarnation = alive.Incarnation;
        member.Address = alive.Address;
        _pool.Add(member.Address);
        member.Metadata = metadata;
        member.UpdatedAt = _now;
        if (previous != MemberState.Alive)
        {
            SetState(member, MemberState.Alive);
        }

        switch (previous)
        {
            case MemberState.Dead or MemberState.Left:
                Emit(MembershipEventKind.Joined, member);
                break;
            case MemberState.Suspect:
                Emit(MembershipEventKind.Alive, member);
                if (changed)
                {
                    Emit(MembershipEventKind.Updated, member);
                }

                break;
            default:
                if (changed)
                {
                    Emit(MembershipEventKind.Updated, member);
                }

                break;
        }

        BroadcastAlive(member);
    }

    /// <summary>
    /// The update's metadata, decoding it from <paramref name="source"/> if needed; null (counted and
    /// logged as malformed) when a key repeats.
    /// </summary>
    private IReadOnlyDictionary<string, string>? ResolveMetadata(in GossipMessage alive, ReadOnlyMemory<byte> source)
    {
        if (alive.Metadata is { } built)
        {
            return built;
        }

        var section = source.Slice(alive.MetadataStart, alive.MetadataLength);
        var metadata = source.Span[0] == LegacyMessageCodec.ProtocolVersion
            ? LegacyMessageCodec.ReadMetadata(section.Span, _pool)
            : MessageCodec.ReadMetadata(section, _pool);
        if (metadata is null)
        {
            Counters.MalformedMessages++;
            Log(MembershipLogLevel.Warning, $"alive for '{alive.Member}' ignored: metadata repeats a key");
        }

        return metadata;
    }

    private void OnSuspect(ulong incarnation, string name, string from)
    {
        if (string.Equals(name, _local.Name, StringComparison.Ordinal))
        {
            if (!_leaving && incarnation >= _local.Incarnation)
            {
                if (_options.LifeguardEnabled)
                {
                    // Lifeguard: being suspected is a hint that this node is the slow one.
                    _health.ApplyDelta(1);
                }

                Refute(incarnation, $"suspicion from '{from}' at incarnation {incarnation}");
            }
            else if (!_leaving)
            {
                ReannounceSelf();
            }

            return;
        }

        if (!_members.TryGetValue(name, out var member) || incarnation < member.Incarnation || !member.IsLive)
        {
            return;
        }

        if (member.State == MemberState.Suspect && member.Suspicion is { } suspicion && incarnation == member.Incarnation)
        {
            if (suspicion.Confirm(from))
            {
                BroadcastAndMaybeTellSuspect(member, from);
            }

            return;
        }

        member.Incarnation = incarnation;
        SetState(member, MemberState.Suspect);
        var live = LiveMemberCount;
        var k = _options.LifeguardEnabled ? Math.Max(0, Math.Min(_options.SuspicionMultiplier - 2, live - 2)) : 0;
        var min = Suspicion.MinTimeout(_options.SuspicionMultiplier, live, _options.ProbeInterval);
        var max = _options.LifeguardEnabled ? min * _options.SuspicionMaxTimeoutMultiplier : min;
        member.Suspicion = new Suspicion(from, k, min, max, _now);
        Emit(MembershipEventKind.Suspect, member);
        BroadcastAndMaybeTellSuspect(member, from);
    }

    private void BroadcastAndMaybeTellSuspect(Member member, string from)
    {
        var message = GossipMessage.Suspect(member.Incarnation, member.Name, from);
        Broadcast(message);
        if (_options.LifeguardEnabled && string.Equals(from, _local.Name, StringComparison.Ordinal))
        {
            // Lifeguard buddy system: tell the suspect directly so it can refute at once.
            BeginPacket();
            AppendMessage(message);
            SendPacket(member.Address);
        }
    }

    private void OnDeadOrLeft(ulong incarnation, string name, string from, bool left)
    {
        if (string.Equals(name, _local.Name, StringComparison.Ordinal))
        {
            if (!_leaving && incarnation >= _local.Incarnation)
            {
                Refute(incarnation, $"{(left ? "leave" : "death")} claimed by '{from}' at incarnation {incarnation}");
            }
            else if (!_leaving)
            {
                ReannounceSelf();
            }

            return;
        }

        if (!_members.TryGetValue(name, out var member) || incarnation < member.Incarnation)
        {
            return;
        }

        // Left may replace Dead (the member announced its departure); nothing else replaces a tombstone.
        if (member.State == MemberState.Left || (member.State == MemberState.Dead && !left))
        {
            return;
        }

        member.Incarnation = incarnation;
        MarkDeadOrLeft(member, left, from);
    }

    private void MarkDeadOrLeft(Member member, bool left, string from)
    {
        SetState(member, left ? MemberState.Left : MemberState.Dead);
        Emit(left ? MembershipEventKind.Left : MembershipEventKind.Dead, member);
        Broadcast(left
            ? GossipMessage.Left(member.Incarnation, member.Name)
            : GossipMessage.Dead(member.Incarnation, member.Name, from));
    }

    private void ExpireSuspicions()
    {
        foreach (var member in _members.Values)
        {
            if (member.Suspicion is { } suspicion && _now >= suspicion.Deadline)
            {
                Log(MembershipLogLevel.Information,
                    $"'{member.Name}' declared dead after {(_now - suspicion.Start).TotalMilliseconds:F0} ms of suspicion with {suspicion.Confirmations} confirmations");
                MarkDeadOrLeft(member, left: false, _local.Name);
            }
        }
    }

    /// <summary>Raises the local incarnation above <paramref name="claimed"/> and gossips it (SWIM §4.2).</summary>
    private void Refute(ulong claimed, string reason)
    {
        _local.Incarnation = Math.Max(_local.Incarnation, claimed) + 1;
        _local.UpdatedAt = _now;
        Counters.Refutations++;
        Log(MembershipLogLevel.Information, $"refuting {reason}: incarnation now {_local.Incarnation}");
        BroadcastAlive(_local);
    }

    /// <summary>
    /// A claim about this node older than its incarnation means an earlier refutation has not
    /// reached everyone (all its retransmissions may have been lost): queue the current alive
    /// message again, with a fresh retransmit budget, so it rides on the next acks and gossip.
    /// </summary>
    private void ReannounceSelf() => BroadcastAlive(_local);

    private void ReapTombstones()
    {
        _scratch.Clear();
        foreach (var member in _members.Values)
        {
            if (member.State is MemberState.Dead or MemberState.Left
                && !ReferenceEquals(member, _local)
                && _now - member.StateChangedAt >= _options.TombstoneRetention)
            {
                _scratch.Add(member);
            }
        }

        foreach (var member in _scratch)
        {
            _members.Remove(member.Name);
        }
    }
}
