namespace WalrusGossip.Membership;

/// <summary>
/// Monotonic counters of a <see cref="MembershipNode"/>, for metrics. Every rejected input bumps
/// exactly one counter and produces one log line.
/// </summary>
public sealed class MembershipCounters
{
    /// <summary>Datagrams handed to <see cref="MembershipNode.ReceiveDatagram"/>.</summary>
    public long DatagramsReceived { get; internal set; }

    /// <summary>Stream messages handed to <see cref="MembershipNode.ReceiveStream"/>.</summary>
    public long StreamMessagesReceived { get; internal set; }

    /// <summary>Inputs dropped because they were larger than the configured maximum.</summary>
    public long OversizedMessages { get; internal set; }

    /// <summary>Inputs dropped whole because they were truncated, malformed or of an unknown version.</summary>
    public long MalformedMessages { get; internal set; }

    /// <summary>Messages of an unknown type, skipped (the rest of the datagram is still used).</summary>
    public long UnknownMessageTypes { get; internal set; }

    /// <summary>Alive messages or push-pull entries ignored because their metadata exceeded the limit.</summary>
    public long MetadataTooLarge { get; internal set; }

    /// <summary>Local metadata updates refused because they exceeded the limit.</summary>
    public long LocalMetadataRefused { get; internal set; }

    /// <summary>Times this node raised its incarnation to refute a suspicion, death or a claim about itself.</summary>
    public long Refutations { get; internal set; }

    /// <summary>Pings addressed to another member name (stale address mapping), ignored.</summary>
    public long MisdirectedPings { get; internal set; }

    /// <summary>Queued updates dropped because the broadcast queue was full.</summary>
    public long BroadcastsDropped { get; internal set; }

    /// <summary>Ping-req requests dropped because too many were in flight.</summary>
    public long IndirectProbesDropped { get; internal set; }

    /// <summary>Log lines dropped because the host did not drain them.</summary>
    public long LogEntriesDropped { get; internal set; }

    /// <summary>Calls whose virtual time was earlier than a previous call; the earlier time is ignored.</summary>
    public long ClockRegressions { get; internal set; }

    /// <summary>Probes that ended without an ack (direct or indirect).</summary>
    public long FailedProbes { get; internal set; }
}
