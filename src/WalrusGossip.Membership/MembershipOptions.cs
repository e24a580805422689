namespace WalrusGossip.Membership;

/// <summary>
/// Tuning for one <see cref="MembershipNode"/>. The defaults suit a LAN (round trips well under
/// 100 ms) and follow hashicorp/memberlist's <c>DefaultLANConfig</c> except where a member says why.
/// All durations are virtual time as passed to <see cref="MembershipNode.Tick"/>.
/// </summary>
/// <remarks>
/// Sources: SWIM — Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style Process
/// Group Membership Protocol", DSN 2002 (§3 basic protocol, §4.1 infection-style dissemination,
/// §4.2 suspicion, §4.3 round-robin probe selection). Lifeguard — Dadgar, Phillips, Currey,
/// "Lifeguard: Local Health Awareness for More Accurate Failure Detection", 2018 (local health
/// aware probe, local health aware suspicion, buddy system).
/// </remarks>
public sealed class MembershipOptions
{
    /// <summary>
    /// Length of one SWIM protocol period: each period the node probes one member (SWIM §3.1), and the minimum
    /// suspicion timeout is counted in periods (<see cref="SuspicionMultiplier"/>). Default 400 ms, not memberlist's
    /// LAN 1 s: with 1 s periods memberlist's suspicion formula alone gives 4 s and the crashed member is first probed,
    /// and found silent, up to several periods after the crash, so a crash among 5 agents could not be detected within
    /// the 4 s that issue 21 asks for (serf 0.8.2 with memberlist's LAN timing: 5.2-7.7 s on loopback). At 400 ms a
    /// member still sends one probe per period, 2.5 a second whatever the cluster size. Must be positive and at least
    /// <see cref="ProbeTimeout"/>.
    /// Lifeguard multiplies it by the local health score + 1 while the node is unhealthy.
    /// </summary>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromMilliseconds(400);

    /// <summary>
    /// How long to wait for a direct ack before asking <see cref="IndirectChecks"/> members to
    /// probe on our behalf (SWIM §3.1 ping-req). Default 200 ms (memberlist's <c>DefaultLocalConfig</c>; its LAN
    /// value is 500 ms), still a large multiple of a LAN round trip, leaving the other half of the period for the
    /// indirect probes. An intermediary waits 80% of it before answering a ping-req with a nack, so the
    /// nack reaches the requester before its period ends.
    /// </summary>
    public TimeSpan ProbeTimeout { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// Number of members (k in SWIM §3.1) asked to ping-req a target that missed its direct ack.
    /// Default 3. Range 0–16.
    /// </summary>
    public int IndirectChecks { get; set; } = 3;

    /// <summary>
    /// Scales the minimum suspicion timeout and the number of independent confirmations Lifeguard
    /// waits for. Minimum timeout = <c>SuspicionMultiplier × max(1, log10(n)) × ProbeInterval</c>, where n is the
    /// number of live members: hashicorp/memberlist's <c>suspicionTimeout</c> (util.go), the same formula and unit.
    /// Confirmations needed to reach the minimum = <c>SuspicionMultiplier − 2</c> (memberlist), capped at n − 2
    /// (memberlist drops to 0 instead). Default 4 (memberlist's LAN value). Range 1–100.
    /// </summary>
    /// <remarks>
    /// With the defaults a cluster of up to ten members gets a 1.6 s minimum and a 9.6 s maximum
    /// (<see cref="SuspicionMaxTimeoutMultiplier"/>): Lifeguard's local health aware suspicion (Dadgar et al. 2018)
    /// starts at the maximum and reaches the minimum after 2 independent confirmations, which arrive within about
    /// two periods of the first accusation because the other members probe a suspect first. Measured on 5 real
    /// agents (docs/performance.md, SWIM): every crash detected in under 4 s, no false death in 120 s or 600 s at 5%
    /// datagram loss. The price of the shorter period is robustness at heavy loss: in the membership simulator
    /// (5 members, 4 × 10,000 s) no live member is declared dead at 5% or 10% loss, but there are 27 dead events at
    /// 20% (memberlist's LAN timing: none at 20%, 52 at 30%). Before issue 21 the unit was the probe timeout and
    /// log10(n) was not floored (1.4 s for 5 members, with 1 s periods): 4 of 20 crashes took 4 s or more.
    /// </remarks>
    public int SuspicionMultiplier { get; set; } = 4;

    /// <summary>
    /// Maximum suspicion timeout as a multiple of the minimum: a suspicion nobody else confirms
    /// lasts this long (Lifeguard, local health aware suspicion, β; memberlist's <c>SuspicionMaxTimeoutMult</c>).
    /// Default 6 (memberlist), 9.6 s for up to ten members with the default period.
    /// Range 1–100. Ignored when <see cref="LifeguardEnabled"/> is false.
    /// </summary>
    public int SuspicionMaxTimeoutMultiplier { get; set; } = 6;

    /// <summary>
    /// λ in SWIM §4.1: each membership update is piggybacked on about
    /// <c>RetransmitMultiplier × ceil(log10(n + 1))</c> outgoing packets before it is dropped from
    /// the broadcast queue. Default 4 (memberlist). Range 1–100.
    /// </summary>
    public int RetransmitMultiplier { get; set; } = 4;

    /// <summary>
    /// Interval between dedicated gossip rounds that send queued updates to
    /// <see cref="GossipNodes"/> random members, in addition to piggybacking on probes and acks.
    /// Default 200 ms (memberlist). Must be positive. A round with nothing queued sends nothing.
    /// </summary>
    public TimeSpan GossipInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Members contacted per gossip round. Default 3 (memberlist). Range 0–64.</summary>
    public int GossipNodes { get; set; } = 3;

    /// <summary>
    /// Members declared dead less than this long ago still receive gossip, so a member that was
    /// wrongly declared dead learns it and refutes. Default 30 s (memberlist).
    /// </summary>
    public TimeSpan GossipToTheDeadTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Interval between push-pull anti-entropy exchanges (full state over a stream) with one random
    /// live member; the same round also contacts one random dead member, like serf's reconnect, so
    /// the two sides of a healed partition find each other. Default 30 s (memberlist). The first
    /// exchange happens at a random offset within the first interval so nodes do not synchronise.
    /// </summary>
    public TimeSpan PushPullInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long dead and left members are kept as tombstones. While a tombstone exists an update
    /// about that member must carry a strictly higher incarnation, so stale gossip cannot bring it
    /// back. Default 24 h (serf's tombstone timeout). Must be positive.
    /// </summary>
    public TimeSpan TombstoneRetention { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// Enables the three Lifeguard mechanisms together: the local health multiplier (probe interval
    /// and timeout scaled by health score + 1), suspicion timeouts that start at the maximum and
    /// shrink with independent confirmations, and the buddy system (a suspected member is told
    /// directly and probed first by members that have not yet confirmed it). When false the node
    /// runs plain SWIM with a fixed suspicion timeout equal to the minimum. Default true.
    /// </summary>
    public bool LifeguardEnabled { get; set; } = true;

    /// <summary>
    /// Upper bound of the local health multiplier (Lifeguard, local health aware probe): the score
    /// ranges over 0 … <c>AwarenessMaxMultiplier − 1</c> and timeouts are scaled by score + 1.
    /// Default 8 (memberlist). Range 1–64.
    /// </summary>
    public int AwarenessMaxMultiplier { get; set; } = 8;

    /// <summary>
    /// Largest gossip datagram sent or accepted, in bytes. Default 1400 (fits a 1500-byte Ethernet
    /// MTU with IP/UDP headers). Range 512–65 000. Larger inbound datagrams are dropped and counted.
    /// </summary>
    public int MaxDatagramBytes { get; set; } = 1400;

    /// <summary>
    /// Largest push-pull stream message sent or accepted, in bytes. Default 4 MiB, enough for
    /// several thousand members with full metadata. Range 4 096–256 MiB.
    /// </summary>
    public int MaxStreamMessageBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>
    /// Largest encoded metadata map per member, in bytes (keys, values and their length prefixes, in the larger of
    /// the two protocol versions' encodings).
    /// Default 512 (memberlist's <c>MetaMaxSize</c>), so an alive message always fits one datagram.
    /// Range 0–1 024. Larger local updates are refused; larger remote ones are ignored and counted.
    /// </summary>
    public int MaxMetadataBytes { get; set; } = 512;

    /// <summary>
    /// Bound on queued membership updates awaiting dissemination. When full, the update that has
    /// been sent most often is dropped (counted in <see cref="MembershipCounters.BroadcastsDropped"/>);
    /// push-pull repairs anything lost. Default 1 024.
    /// </summary>
    public int MaxBroadcastQueueLength { get; set; } = 1024;

    /// <summary>
    /// Gossip protocol version this node sends: 2 (default) is MessagePack (<c>MessageCodec</c>), 1 the format of
    /// releases up to 0.3. Every node reads both, so a cluster is upgraded one agent at a time with 1 and switched to
    /// 2 by a second rolling restart once no agent runs 0.3 (an agent of 0.3 drops version-2 datagrams as malformed
    /// and would see upgraded agents as dead). The same idea as memberlist's and Consul's protocol version setting.
    /// Range 1-2.
    /// </summary>
    public int ProtocolVersion { get; set; } = 2;

    /// <summary>
    /// Bound on ping-req probes this node runs for others at one time; further requests are
    /// dropped and counted. Default 256.
    /// </summary>
    public int MaxPendingIndirectProbes { get; set; } = 256;

    /// <summary>Bound on undrained log lines; further lines are counted and dropped. Default 256.</summary>
    public int MaxPendingLogEntries { get; set; } = 256;

    /// <summary>
    /// Checks every value against its documented range.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is outside its documented range.</exception>
    public void Validate()
    {
        Positive(ProbeInterval, nameof(ProbeInterval));
        Positive(ProbeTimeout, nameof(ProbeTimeout));
        if (ProbeTimeout > ProbeInterval)
        {
            throw new ArgumentOutOfRangeException(nameof(ProbeTimeout), ProbeTimeout, "must not exceed ProbeInterval");
        }

        Range(IndirectChecks, 0, 16, nameof(IndirectChecks));
        Range(SuspicionMultiplier, 1, 100, nameof(SuspicionMultiplier));
        Range(SuspicionMaxTimeoutMultiplier, 1, 100, nameof(SuspicionMaxTimeoutMultiplier));
        Range(RetransmitMultiplier, 1, 100, nameof(RetransmitMultiplier));
        Positive(GossipInterval, nameof(GossipInterval));
        Range(GossipNodes, 0, 64, nameof(GossipNodes));
        Positive(GossipToTheDeadTime, nameof(GossipToTheDeadTime));
        Positive(PushPullInterval, nameof(PushPullInterval));
        Positive(TombstoneRetention, nameof(TombstoneRetention));
        Range(AwarenessMaxMultiplier, 1, 64, nameof(AwarenessMaxMultiplier));
        Range(MaxDatagramBytes, 512, 65_000, nameof(MaxDatagramBytes));
        Range(MaxStreamMessageBytes, 4096, 256 * 1024 * 1024, nameof(MaxStreamMessageBytes));
        Range(MaxMetadataBytes, 0, 1024, nameof(MaxMetadataBytes));
        Range(MaxBroadcastQueueLength, 1, 1_000_000, nameof(MaxBroadcastQueueLength));
        Range(ProtocolVersion, 1, 2, nameof(ProtocolVersion));
        Range(MaxPendingIndirectProbes, 1, 1_000_000, nameof(MaxPendingIndirectProbes));
        Range(MaxPendingLogEntries, 1, 1_000_000, nameof(MaxPendingLogEntries));
    }

    /// <summary>A copy of these options (to change one setting for one node).</summary>
    /// <returns>A shallow copy.</returns>
    public MembershipOptions Clone() => (MembershipOptions)MemberwiseClone();

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, "must be positive");
        }
    }

    private static void Range(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"must be in [{min}, {max}]");
        }
    }
}
