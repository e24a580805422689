namespace WalrusGossip.Membership;

/// <summary>
/// Datagram handling and dissemination (SWIM §4.1): updates ride on every outgoing ping, ping-req,
/// ack and nack, and dedicated gossip rounds push them to a few random members every
/// <see cref="MembershipOptions.GossipInterval"/>, each update at most λ·log n times.
/// </summary>
public sealed partial class MembershipNode
{
    private TimeSpan _nextGossipAt;

    /// <summary>
    /// Handles one received gossip datagram. Oversized, truncated or malformed datagrams are dropped
    /// whole; unknown message types and over-limit metadata are skipped; each case is counted in
    /// <see cref="Counters"/> and logged. Never throws because of the content.
    /// </summary>
    /// <param name="now">Current virtual time.</param>
    /// <param name="fromAddress">Sender's address as seen by the transport; acks go back there.</param>
    /// <param name="datagram">The datagram's bytes; not retained after the call.</param>
    /// <exception cref="ArgumentNullException"><paramref name="fromAddress"/> is null.</exception>
    public void ReceiveDatagram(TimeSpan now, string fromAddress, ReadOnlyMemory<byte> datagram)
    {
        ArgumentNullException.ThrowIfNull(fromAddress);
        Advance(now);
        Counters.DatagramsReceived++;
        if (datagram.Length > _options.MaxDatagramBytes)
        {
            Counters.OversizedMessages++;
            Log(MembershipLogLevel.Warning, $"datagram of {datagram.Length} bytes from {fromAddress} dropped: limit {_options.MaxDatagramBytes}");
            return;
        }

        _decoded.Clear();
        var status = datagram.Length > 0 && datagram.Span[0] == LegacyMessageCodec.ProtocolVersion
            ? LegacyMessageCodec.DecodeDatagram(datagram.Span, _options.MaxMetadataBytes, _decoded, out var unknown, out var tooLarge, _pool)
            : MessageCodec.DecodeDatagram(datagram, _options.MaxMetadataBytes, _decoded, out unknown, out tooLarge, _pool);
        if (status != DecodeStatus.Ok)
        {
            Counters.MalformedMessages++;
            Log(MembershipLogLevel.Warning, $"malformed datagram of {datagram.Length} bytes from {fromAddress} dropped");
            return;
        }

        if (unknown > 0)
        {
            Counters.UnknownMessageTypes += unknown;
            Log(MembershipLogLevel.Warning, $"{unknown} message(s) of unknown type from {fromAddress} skipped");
        }

        Counters.MetadataTooLarge += tooLarge;
        for (var i = 0; i < _decoded.Count; i++)
        {
            Dispatch(fromAddress, _decoded[i], datagram);
        }

        _decoded.Clear();
    }

    private void Dispatch(string fromAddress, in GossipMessage message, ReadOnlyMemory<byte> datagram)
    {
        switch (message.Type)
        {
            case MessageType.Ping:
                OnPing(fromAddress, message);
                break;
            case MessageType.PingReq:
                OnPingReq(fromAddress, message);
                break;
            case MessageType.Ack:
                OnAck(message.Seq);
                break;
            case MessageType.Nack:
                OnNack(message.Seq);
                break;
            case MessageType.Suspect:
                OnSuspect(message.Incarnation, message.Member, message.From);
                break;
            case MessageType.Alive:
                OnAlive(message, datagram);
                break;
            case MessageType.Dead:
                OnDeadOrLeft(message.Incarnation, message.Member, message.From, left: false);
                break;
            case MessageType.Left:
                OnDeadOrLeft(message.Incarnation, message.Member, message.Member, left: true);
                break;
            default:
                throw new MembershipInvariantViolationException($"decoder produced message type {message.Type}");
        }
    }

    private void GossipRound()
    {
        if (_broadcasts.Count == 0 || _options.GossipNodes == 0)
        {
            return;
        }

        _scratch.Clear();
        foreach (var m in _members.Values)
        {
            var recentlyDead = m.State == MemberState.Dead && _now - m.StateChangedAt < _options.GossipToTheDeadTime;
            if (!ReferenceEquals(m, _local) && (m.IsLive || recentlyDead))
            {
                _scratch.Add(m);
            }
        }

        _scratch.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        var count = Math.Min(_options.GossipNodes, _scratch.Count);
        for (var i = 0; i < count && _broadcasts.Count > 0; i++)
        {
            var j = i + _random.Next(_scratch.Count - i);
            (_scratch[i], _scratch[j]) = (_scratch[j], _scratch[i]);
            BeginPacket();
            SendPacket(_scratch[i].Address);
        }
    }

    private void BroadcastAlive(Member member) =>
        Broadcast(GossipMessage.Alive(member.Incarnation, member.Name, member.Address, member.Metadata));

    private void Broadcast(in GossipMessage message)
    {
        var dropped = _broadcasts.Dropped;
        _broadcasts.Enqueue(message.Member, _options.ProtocolVersion == MessageCodec.ProtocolVersion
            ? MessageCodec.EncodeMessage(message)
            : LegacyMessageCodec.EncodeFramed(message));
        if (_broadcasts.Dropped != dropped)
        {
            Counters.BroadcastsDropped++;
            Log(MembershipLogLevel.Warning, $"broadcast queue full ({_options.MaxBroadcastQueueLength}); dropped the most-sent update");
        }
    }

    private void BeginPacket()
    {
        _packet.Clear();
        _packet.WriteByte((byte)_options.ProtocolVersion);
    }

    private void AppendMessage(in GossipMessage message)
    {
        if (_options.ProtocolVersion == MessageCodec.ProtocolVersion)
        {
            MessageCodec.WriteMessage(_packet, message);
        }
        else
        {
            LegacyMessageCodec.WriteFramed(_packet, message);
        }
    }

    /// <summary>Fills the rest of the packet with queued updates and sends it; empty packets are not sent.</summary>
    private void SendPacket(string to)
    {
        var limit = BroadcastQueue.TransmitLimit(_options.RetransmitMultiplier, LiveMemberCount);
        _broadcasts.AppendTo(_packet, _options.MaxDatagramBytes, limit);
        if (_packet.Length > 1)
        {
            _outbox.Add(new OutboundMessage(to, OutboundKind.Datagram, _packet.ToArray()));
        }
    }
}
