namespace WalrusGossip.Membership;

/// <summary>
/// Push-pull anti-entropy: full state exchanged over a stream with one random live member every
/// <see cref="MembershipOptions.PushPullInterval"/> (and one random dead member, to heal
/// partitions), merged by incarnation. Joining is a push-pull with seed addresses.
/// </summary>
public sealed partial class MembershipNode
{
    private readonly List<PushPullEntry> _entries = [];
    private TimeSpan _nextPushPullAt;

    /// <summary>
    /// Starts joining a cluster: sends this node's state to each seed over a stream; each seed
    /// answers with its full state. Safe to call again (for example until a seed answers); seeds
    /// that are unreachable are simply not heard from.
    /// </summary>
    /// <param name="now">Current virtual time.</param>
    /// <param name="seedAddresses">Gossip addresses of one or more existing members.</param>
    /// <exception cref="ArgumentNullException"><paramref name="seedAddresses"/> is null.</exception>
    public void Join(TimeSpan now, IEnumerable<string> seedAddresses)
    {
        ArgumentNullException.ThrowIfNull(seedAddresses);
        Advance(now);
        foreach (var seed in seedAddresses)
        {
            if (!string.IsNullOrEmpty(seed) && !string.Equals(seed, _local.Address, StringComparison.Ordinal))
            {
                SendPushPull(seed, join: true, response: false);
            }
        }
    }

    /// <summary>
    /// Handles one push-pull stream message: merges the remote state and, for a request, queues the
    /// full local state back to <paramref name="fromAddress"/> as a stream message. Oversized or
    /// malformed messages are counted, logged and ignored. Never throws because of the content.
    /// </summary>
    /// <param name="now">Current virtual time.</param>
    /// <param name="fromAddress">Address of the peer at the other end of the stream.</param>
    /// <param name="message">The message's bytes; not retained after the call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="fromAddress"/> is null.</exception>
    public void ReceiveStream(TimeSpan now, string fromAddress, ReadOnlyMemory<byte> message)
    {
        ArgumentNullException.ThrowIfNull(fromAddress);
        Advance(now);
        Counters.StreamMessagesReceived++;
        if (message.Length > _options.MaxStreamMessageBytes)
        {
            Counters.OversizedMessages++;
            Log(MembershipLogLevel.Warning, $"stream message of {message.Length} bytes from {fromAddress} dropped: limit {_options.MaxStreamMessageBytes}");
            return;
        }

        _entries.Clear();
        var status = message.Length > 0 && message.Span[0] == LegacyMessageCodec.ProtocolVersion
            ? LegacyMessageCodec.DecodePushPull(message.Span, _options.MaxMetadataBytes, _entries, out var flags, out var from, out var tooLarge, _pool)
            : MessageCodec.DecodePushPull(message, _options.MaxMetadataBytes, _entries, out flags, out from, out tooLarge, _pool);
        if (status != DecodeStatus.Ok)
        {
            Counters.MalformedMessages++;
            Log(MembershipLogLevel.Warning, $"malformed push-pull of {message.Length} bytes from {fromAddress} dropped");
            return;
        }

        if (tooLarge > 0)
        {
            Counters.MetadataTooLarge += tooLarge;
            Log(MembershipLogLevel.Warning, $"push-pull from {fromAddress}: {tooLarge} entries with metadata over {_options.MaxMetadataBytes} bytes ignored");
        }

        if ((flags & LegacyMessageCodec.PushPullJoinFlag) != 0)
        {
            Log(MembershipLogLevel.Information, $"join request from '{from}' at {fromAddress} with {_entries.Count} members");
        }

        foreach (var entry in _entries)
        {
            Merge(entry, from, message);
        }

        _entries.Clear();
        if ((flags & LegacyMessageCodec.PushPullResponseFlag) == 0 && !_leaving)
        {
            SendPushPull(fromAddress, join: false, response: true);
        }
    }

    /// <summary>
    /// Applies one remote entry as if its message had been gossiped, except that a remote "dead"
    /// only makes the member suspect here (as memberlist does): this node then checks for itself.
    /// Suspect or dead entries about members unknown here are ignored, so a joiner does not adopt
    /// long-gone members.
    /// </summary>
    private void Merge(in PushPullEntry entry, string from, ReadOnlyMemory<byte> source)
    {
        switch (entry.State)
        {
            case MemberState.Alive:
                var alive = GossipMessage.Alive(entry.Incarnation, entry.Name, entry.Address, entry.Metadata);
                alive.MetadataStart = entry.MetadataStart;
                alive.MetadataLength = entry.MetadataLength;
                alive.MetadataTooLarge = entry.MetadataTooLarge;
                OnAlive(alive, source);
                break;
            case MemberState.Suspect:
            case MemberState.Dead:
                OnSuspect(entry.Incarnation, entry.Name, from);
                break;
            case MemberState.Left:
                OnDeadOrLeft(entry.Incarnation, entry.Name, entry.Name, left: true);
                break;
            default:
                throw new MembershipInvariantViolationException($"decoder produced member state {entry.State}");
        }
    }

    private void PushPullRound()
    {
        var live = PickRandom(static m => m.IsLive);
        if (live is not null)
        {
            SendPushPull(live.Address, join: false, response: false);
        }

        var dead = PickRandom(static m => m.State == MemberState.Dead);
        if (dead is not null)
        {
            SendPushPull(dead.Address, join: false, response: false);
        }
    }

    private Member? PickRandom(Func<Member, bool> predicate)
    {
        _scratch.Clear();
        foreach (var m in _members.Values)
        {
            if (!ReferenceEquals(m, _local) && predicate(m))
            {
                _scratch.Add(m);
            }
        }

        if (_scratch.Count == 0)
        {
            return null;
        }

        _scratch.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return _scratch[_random.Next(_scratch.Count)];
    }

    private void SendPushPull(string to, bool join, bool response)
    {
        var entries = new List<PushPullEntry>(_members.Count);
        foreach (var m in _members.Values)
        {
            entries.Add(new PushPullEntry(m.Name, m.Address, m.Incarnation, m.State, m.Metadata));
        }

        entries.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var payload = _options.ProtocolVersion == MessageCodec.ProtocolVersion
            ? MessageCodec.EncodePushPull(join, response, _local.Name, entries)
            : LegacyMessageCodec.EncodePushPull(join, response, _local.Name, entries);
        if (payload.Length > _options.MaxStreamMessageBytes)
        {
            Log(MembershipLogLevel.Warning, $"push-pull of {payload.Length} bytes exceeds limit {_options.MaxStreamMessageBytes}; not sent");
            return;
        }

        _outbox.Add(new OutboundMessage(to, OutboundKind.Stream, payload));
    }
}
