namespace WalrusGossip.Membership;

/// <summary>
/// One member's SWIM + Lifeguard failure detector and gossip membership, as a pure deterministic
/// state machine: no threads, clocks, sockets or shared randomness. The host feeds it virtual time
/// (<see cref="Tick"/>), received datagrams and stream messages, and drains the messages to send,
/// the membership events and log lines it produced. See README.md for the driving loop.
/// </summary>
/// <remarks>
/// <para>Time: every call takes <c>now</c>, the host's monotonic clock as time since an arbitrary
/// epoch. The node never reads a clock. Call <see cref="Tick"/> at or soon after
/// <see cref="NextDeadline"/>; calling more often is harmless. A <c>now</c> earlier than a previous
/// one is treated as the previous one and counted in <see cref="MembershipCounters.ClockRegressions"/>.</para>
/// <para>Bad input (malformed, truncated, oversized or unknown messages, metadata over the limit) is
/// counted, logged and ignored: no method throws because of what a peer sent.</para>
/// <para>Not thread-safe: drive one instance from one event loop.</para>
/// <para>Sources: SWIM (Das, Gupta, Motivala, DSN 2002) §3 failure detection and dissemination,
/// §4.1 infection-style dissemination, §4.2 suspicion, §4.3 round-robin probing; Lifeguard (Dadgar,
/// Phillips, Currey, 2018) local health aware probe, local health aware suspicion, buddy system;
/// push-pull anti-entropy and tombstones as in hashicorp/memberlist and serf.</para>
/// </remarks>
public sealed partial class MembershipNode
{
    private readonly MembershipOptions _options;
    private readonly Random _random;
    private readonly Member _local;
    private readonly Dictionary<string, Member> _members = new(StringComparer.Ordinal);
    private readonly LocalHealth _health;
    private readonly BroadcastQueue _broadcasts;
    private readonly List<OutboundMessage> _outbox = [];
    private readonly List<MembershipEvent> _events = [];
    private readonly List<MembershipLogEntry> _log = [];
    private readonly WireWriter _packet;
    private readonly List<GossipMessage> _decoded = [];
    private readonly List<Member> _scratch = [];
    private readonly StringPool _pool = new();
    private TimeSpan _now;
    private bool _leaving;

    /// <summary>
    /// Creates the node. It knows only itself until it receives a message or <see cref="Join"/> is called.
    /// </summary>
    /// <param name="name">Unique, stable member name (1–255 UTF-8 bytes), e.g. the node id.</param>
    /// <param name="address">This node's gossip address as peers should reach it, e.g. <c>10.0.0.5:7946</c> (≤ 255 bytes).</param>
    /// <param name="options">Tuning; copied and validated, later changes have no effect.</param>
    /// <param name="random">Seeded random source owned by this node from now on (probe order, member choice, jitter).</param>
    /// <param name="now">Current virtual time.</param>
    /// <param name="metadata">Initial metadata (see <see cref="MetadataKeys"/>); at most <see cref="MembershipOptions.MaxMetadataBytes"/> encoded.</param>
    /// <exception cref="ArgumentException">Name or address empty or too long, or metadata over the limit.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is outside its documented range.</exception>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    public MembershipNode(
        string name,
        string address,
        MembershipOptions options,
        Random random,
        TimeSpan now,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        if (name.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(name) > WireReader.MaxStringBytes)
        {
            throw new ArgumentException("name must be 1-255 UTF-8 bytes", nameof(name));
        }

        if (address.Length == 0 || System.Text.Encoding.UTF8.GetByteCount(address) > WireReader.MaxStringBytes)
        {
            throw new ArgumentException("address must be 1-255 UTF-8 bytes", nameof(address));
        }

        _options = options.Clone();
        _options.Validate();
        metadata ??= Metadata.Empty;
        if (!Metadata.IsEncodable(metadata, _options.MaxMetadataBytes))
        {
            throw new ArgumentException($"metadata exceeds {_options.MaxMetadataBytes} encoded bytes or has empty/long keys", nameof(metadata));
        }

        _random = random;
        _now = now;
        _health = new LocalHealth(_options.AwarenessMaxMultiplier);
        _broadcasts = new BroadcastQueue(_options.MaxBroadcastQueueLength);
        _packet = new WireWriter(_options.MaxDatagramBytes);
        _local = new Member(name, address, 0, Metadata.Copy(metadata), now);
        _members.Add(name, _local);
        _pool.Add(name);
        _pool.Add(address);
        _probeOrder.Add(name);
        _nextProbeAt = now + Jitter(_options.ProbeInterval);
        _nextGossipAt = now + Jitter(_options.GossipInterval);
        _nextPushPullAt = now + Jitter(_options.PushPullInterval);
        Emit(MembershipEventKind.Joined, _local);
    }

    /// <summary>This node's member name.</summary>
    public string Name => _local.Name;

    /// <summary>This node's gossip address.</summary>
    public string Address => _local.Address;

    /// <summary>This node's incarnation number; raised to refute suspicion and to publish metadata.</summary>
    public ulong Incarnation => _local.Incarnation;

    /// <summary>True after <see cref="Leave"/>: the node no longer probes and only spreads its departure.</summary>
    public bool HasLeft => _leaving;

    /// <summary>
    /// Lifeguard local health score, 0 … <see cref="MembershipOptions.AwarenessMaxMultiplier"/> − 1;
    /// 0 is healthy. Probe interval and timeout are multiplied by score + 1. Always 0 with Lifeguard off.
    /// </summary>
    public int LocalHealthScore => _health.Score;

    /// <summary>Members (including this node) currently alive or suspect in the local view.</summary>
    public int LiveMemberCount
    {
        get
        {
            var count = 0;
            foreach (var member in _members.Values)
            {
                if (member.IsLive)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>Membership updates waiting to be gossiped; 0 means everything queued has been sent often enough.</summary>
    public int PendingBroadcasts => _broadcasts.Count;

    /// <summary>Counters of traffic and rejected input.</summary>
    public MembershipCounters Counters { get; } = new();

    /// <summary>
    /// Earliest virtual time at which <see cref="Tick"/> has work to do (next probe step, gossip
    /// round, push-pull, suspicion expiry or ping-req deadline).
    /// </summary>
    public TimeSpan NextDeadline
    {
        get
        {
            var next = _nextGossipAt;
            if (!_leaving)
            {
                next = Min(next, _nextPushPullAt);
                next = Min(next, _probe is null ? _nextProbeAt : (_probe.IndirectSent ? _probe.DeadlineAt : _probe.IndirectAt));
            }

            foreach (var forward in _forwards)
            {
                next = Min(next, forward.Deadline);
            }

            foreach (var member in _members.Values)
            {
                if (member.Suspicion is { } suspicion)
                {
                    next = Min(next, suspicion.Deadline);
                }
            }

            return next;
        }
    }

    /// <summary>Runs every timer that is due at <paramref name="now"/>.</summary>
    /// <param name="now">Current virtual time.</param>
    public void Tick(TimeSpan now) => Advance(now);

    /// <summary>
    /// Announces a graceful leave: raises the incarnation, gossips a <em>left</em> message and stops
    /// probing and anti-entropy. Keep ticking and sending until <see cref="PendingBroadcasts"/> is 0
    /// (a few gossip intervals) before shutting down, so peers record <see cref="MemberState.Left"/>
    /// rather than suspecting and declaring the node dead. Calling it again does nothing.
    /// </summary>
    /// <param name="now">Current virtual time.</param>
    public void Leave(TimeSpan now)
    {
        Advance(now);
        if (_leaving)
        {
            return;
        }

        _leaving = true;
        _probe = null;
        _local.Incarnation++;
        SetState(_local, MemberState.Left);
        Emit(MembershipEventKind.Left, _local);
        Broadcast(GossipMessage.Left(_local.Incarnation, _local.Name));
        Log(MembershipLogLevel.Information, $"leaving the cluster at incarnation {_local.Incarnation}");
    }

    /// <summary>
    /// Replaces this node's metadata and gossips it: the incarnation is raised so the new version
    /// wins everywhere (metadata is versioned by incarnation). Refused — returning false, counted in
    /// <see cref="MembershipCounters.LocalMetadataRefused"/> and logged — when the encoded map exceeds
    /// <see cref="MembershipOptions.MaxMetadataBytes"/> or has an empty or over-long key; also false
    /// after <see cref="Leave"/>. Unchanged metadata returns true without gossip.
    /// </summary>
    /// <param name="now">Current virtual time.</param>
    /// <param name="metadata">Complete new map (not a patch); copied.</param>
    /// <returns>True when accepted.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="metadata"/> is null.</exception>
    public bool TryUpdateMetadata(TimeSpan now, IReadOnlyDictionary<string, string> metadata)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        Advance(now);
        if (_leaving)
        {
            return false;
        }

        if (!Metadata.IsEncodable(metadata, _options.MaxMetadataBytes))
        {
            Counters.LocalMetadataRefused++;
            Log(MembershipLogLevel.Warning, $"local metadata update refused: over {_options.MaxMetadataBytes} bytes or bad key");
            return false;
        }

        if (Metadata.AreEqual(metadata, _local.Metadata))
        {
            return true;
        }

        _local.Metadata = Metadata.Copy(metadata);
        _local.Incarnation++;
        _local.UpdatedAt = _now;
        Emit(MembershipEventKind.Updated, _local);
        BroadcastAlive(_local);
        return true;
    }

    /// <summary>Moves the messages to send into <paramref name="destination"/> and forgets them.</summary>
    /// <param name="destination">Receives the messages in the order they were produced.</param>
    /// <returns>Number of messages moved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public int DrainMessages(ICollection<OutboundMessage> destination) => Drain(_outbox, destination);

    /// <summary>
    /// Moves the membership events produced so far into <paramref name="destination"/>. The first
    /// event of a new node is <see cref="MembershipEventKind.Joined"/> for itself.
    /// </summary>
    /// <param name="destination">Receives the events in order.</param>
    /// <returns>Number of events moved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public int DrainEvents(ICollection<MembershipEvent> destination) => Drain(_events, destination);

    /// <summary>
    /// Moves pending log lines into <paramref name="destination"/>. At most
    /// <see cref="MembershipOptions.MaxPendingLogEntries"/> are kept between drains.
    /// </summary>
    /// <param name="destination">Receives the lines in order.</param>
    /// <returns>Number of lines moved.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="destination"/> is null.</exception>
    public int DrainLog(ICollection<MembershipLogEntry> destination) => Drain(_log, destination);

    /// <summary>
    /// The local view for diagnostics: every known member including this node and tombstones,
    /// ordered by name (ordinal).
    /// </summary>
    /// <param name="now">Current virtual time, used for each entry's last-update age.</param>
    /// <returns>A new list; later changes to the node do not affect it.</returns>
    public IReadOnlyList<MemberSnapshot> GetSnapshot(TimeSpan now)
    {
        Advance(now);
        var result = new List<MemberSnapshot>(_members.Count);
        foreach (var m in _members.Values)
        {
            result.Add(new MemberSnapshot(
                m.Name, m.Address, m.State, m.Incarnation, m.Metadata, _now - m.UpdatedAt, ReferenceEquals(m, _local)));
        }

        result.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return result;
    }

    private static int Drain<T>(List<T> source, ICollection<T> destination)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var count = source.Count;
        foreach (var item in source)
        {
            destination.Add(item);
        }

        source.Clear();
        return count;
    }

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    /// <summary>Moves virtual time forward and runs all due timers.</summary>
    private void Advance(TimeSpan now)
    {
        if (now < _now)
        {
            Counters.ClockRegressions++;
        }
        else
        {
            _now = now;
        }

        RunProbeTimers();
        ExpireSuspicions();
        ExpireIndirectProbes();
        if (_now >= _nextGossipAt)
        {
            _nextGossipAt = _now + _options.GossipInterval;
            GossipRound();
        }

        if (_now >= _nextPushPullAt)
        {
            _nextPushPullAt = _now + _options.PushPullInterval;
            if (!_leaving)
            {
                PushPullRound();
            }
        }
    }

    private TimeSpan Jitter(TimeSpan interval) => TimeSpan.FromTicks((long)(_random.NextDouble() * interval.Ticks));

    private void Emit(MembershipEventKind kind, Member member) =>
        _events.Add(new MembershipEvent(kind, member.Name, member.Address, member.Incarnation, member.Metadata, _now));

    private void Log(MembershipLogLevel level, string message)
    {
        if (_log.Count >= _options.MaxPendingLogEntries)
        {
            Counters.LogEntriesDropped++;
            return;
        }

        _log.Add(new MembershipLogEntry(_now, level, message));
    }

    private void SetState(Member member, MemberState state)
    {
        member.State = state;
        member.StateChangedAt = _now;
        member.UpdatedAt = _now;
        if (state != MemberState.Suspect)
        {
            member.Suspicion = null;
        }
    }
}
