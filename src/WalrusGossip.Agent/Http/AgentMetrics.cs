using System.Diagnostics.Metrics;
using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Membership;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// The agent's metrics as <see cref="System.Diagnostics.Metrics"/> instruments of the meter <see cref="MeterName"/>
/// (so <c>dotnet-counters monitor --counters WalrusGossip.Agent</c> sees them), exported on <c>/metrics</c> by the
/// OpenTelemetry Prometheus exporter (text format 0.0.4) and, by option, over OTLP (<see cref="AgentTelemetry"/>).
/// </summary>
/// <remarks>
/// Node state (Raft, log, membership, autopilot, repair, gossip keyring) is read from the last
/// <see cref="AgentStatus"/> given to <see cref="Update"/>: the agent refreshes it once a second and before each
/// scrape. Recording (<see cref="ObserveAppend"/>, the Count methods) is lock-free. Every metric name and label that the
/// agent published before the move to System.Diagnostics.Metrics is kept; the exporter adds the label
/// <c>otel_scope_name</c> and a <c>target_info</c> series.
/// </remarks>
public sealed class AgentMetrics : IDisposable
{
    /// <summary>Name of the agent's <see cref="Meter"/>.</summary>
    public const string MeterName = "WalrusGossip.Agent";

    /// <summary>Bucket upper bounds of <c>walrus_append_latency_seconds</c>, in seconds (0.5 ms to 5 s).</summary>
    public static IReadOnlyList<double> LatencyBucketsSeconds { get; } = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

    private readonly Meter _meter;
    private readonly Histogram<double> _appendLatency;
    private readonly long[] _appendCounts = new long[LatencyBucketsSeconds.Count + 1];
    private AgentStatus? _status;
    private Func<long> _clientConnections = () => 0;
    private Func<long> _protocolErrors = () => 0;
    private Func<X509Certificate2?> _certificate = () => null;
    private Func<(long Reloaded, long Refused)> _certificateReloads = () => (0, 0);
    private (TransportCounters Peer, TransportCounters Client)? _transport;
    private long _overloaded;
    private long _deniedPermission;
    private long _refusedUnauthenticated;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (the host's; a private one when null).</summary>
    /// <param name="meterFactory">The host's meter factory, or null.</param>
    public AgentMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _appendLatency = _meter.CreateHistogram<double>("walrus_append_latency_seconds", "s", "Client append latency from receipt to commit.");
        CreateNodeInstruments();
        CreateAgentInstruments();
    }

    /// <summary>Appends refused OVERLOADED so far.</summary>
    public long Overloaded => Interlocked.Read(ref _overloaded);

    /// <summary>Requests answered PERMISSION_DENIED so far.</summary>
    public long PermissionDenied => Interlocked.Read(ref _deniedPermission);

    /// <summary>Client connections refused for missing or invalid credentials so far.</summary>
    public long Unauthenticated => Interlocked.Read(ref _refusedUnauthenticated);

    /// <summary>Records one client append's latency, from request receipt to commit.</summary>
    /// <param name="elapsed">The latency.</param>
    public void ObserveAppend(TimeSpan elapsed)
    {
        var seconds = elapsed.TotalSeconds;
        _appendLatency.Record(seconds);
        var i = 0;
        while (i < LatencyBucketsSeconds.Count && seconds > LatencyBucketsSeconds[i])
        {
            i++;
        }

        Interlocked.Increment(ref _appendCounts[i]); // the web view's percentiles (/v1/status appendLatency)
    }

    /// <summary>Upper bounds, in seconds, of the append latency histogram's buckets (the last bucket, beyond them, is unbounded).</summary>
    public static IReadOnlyList<double> AppendLatencyBoundsSeconds => LatencyBucketsSeconds;

    /// <summary>The append latency histogram since start: per-bucket (not cumulative) counts, one per bound of <see cref="AppendLatencyBoundsSeconds"/> and then the unbounded bucket.</summary>
    /// <returns>A copy of the counts.</returns>
    public long[] AppendLatencyCounts()
    {
        var counts = new long[_appendCounts.Length];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Interlocked.Read(ref _appendCounts[i]);
        }

        return counts;
    }

    /// <summary>Counts one append refused OVERLOADED because too many bytes of appends were waiting (back-pressure).</summary>
    public void CountOverloaded() => Interlocked.Increment(ref _overloaded);

    /// <summary>Counts one request answered PERMISSION_DENIED.</summary>
    public void CountPermissionDenied() => Interlocked.Increment(ref _deniedPermission);

    /// <summary>Counts one client Hello refused for missing or invalid credentials.</summary>
    public void CountUnauthenticated() => Interlocked.Increment(ref _refusedUnauthenticated);

    /// <summary>Replaces the node state the observable instruments report.</summary>
    /// <param name="status">The latest status captured on the node loop.</param>
    public void Update(AgentStatus status) => Volatile.Write(ref _status, status);

    /// <summary>Connects the gauges that live elsewhere: open client connections and the transport counters of the peer and client ports.</summary>
    /// <param name="clientConnections">Reads the open client connection count.</param>
    /// <param name="peer">Counters of the peer and gossip ports.</param>
    /// <param name="client">Counters of the client port.</param>
    public void Bind(Func<long> clientConnections, TransportCounters peer, TransportCounters client)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(client);
        _clientConnections = clientConnections;
        _protocolErrors = () => peer.ConnectionsClosedForProtocolError + client.ConnectionsClosedForProtocolError;
        _transport = (peer, client);
    }

    /// <summary>Connects the certificate gauges: the certificate presented now and the reload counts.</summary>
    /// <param name="certificate">Reads the presented certificate.</param>
    /// <param name="reloads">Reads the reload counts.</param>
    public void BindCertificate(Func<X509Certificate2?> certificate, Func<(long Reloaded, long Refused)> reloads)
    {
        _certificate = certificate;
        _certificateReloads = reloads;
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();

    private static KeyValuePair<string, object?> Tag(string name, string value) => new(name, value);

    private void NodeGauge(string name, string description, Func<AgentStatus, double> read) =>
        _meter.CreateObservableGauge(name, () => Volatile.Read(ref _status) is { } s ? [new Measurement<double>(read(s))] : Array.Empty<Measurement<double>>(), description: description);

    private void NodeCounter(string name, string description, Func<AgentStatus, long> read) =>
        _meter.CreateObservableCounter(name, () => Volatile.Read(ref _status) is { } s ? [new Measurement<long>(read(s))] : Array.Empty<Measurement<long>>(), description: description);

    private void NodeCounters(string name, string description, string label, params (string Value, Func<AgentStatus, long> Read)[] series) =>
        _meter.CreateObservableCounter(name, () => Volatile.Read(ref _status) is { } s
            ? series.Select(x => new Measurement<long>(x.Read(s), Tag(label, x.Value)))
            : [], description: description);

    private void CreateNodeInstruments()
    {
        _meter.CreateObservableGauge("walrus_raft_role", () => Volatile.Read(ref _status) is { } s
            ? new[] { "leader", "follower", "candidate", "learner" }.Select(r => new Measurement<long>(s.RoleName == r ? 1 : 0, Tag("role", r)))
            : [], description: "Raft role of this node (1 for the current role).");
        NodeGauge("walrus_raft_term", "Current Raft term.", s => s.Node.Term);
        NodeGauge("walrus_raft_commit_index", "Highest index known committed.", s => s.Node.CommitIndex);
        NodeGauge("walrus_raft_applied_index", "Highest index applied.", s => s.Node.AppliedIndex);
        NodeGauge("walrus_log_last_index", "Last index in the local log.", s => s.Node.LastIndex);
        NodeGauge("walrus_log_segments", "Segment files in the local log.", s => s.SegmentCount);
        NodeGauge("walrus_log_bytes", "Bytes of record data in the local log.", s => s.LogBytes);
        NodeGauge("walrus_raft_voters", "Voters in the configuration this node follows.", s => s.Node.Voters.Count);
        NodeGauge("walrus_raft_learners", "Learners in the configuration this node follows.", s => s.Node.Learners.Count);
        _meter.CreateObservableGauge("walrus_swim_members", () => Volatile.Read(ref _status) is { } s
            ? Enum.GetValues<MemberState>().Select(state => new Measurement<long>(s.Members.Count(m => m.State == state), Tag("state", state.ToString().ToLowerInvariant())))
            : [], description: "SWIM members by state in this node's view.");
        NodeCounters("walrus_autopilot_changes_total", "Membership changes autopilot proposed as leader, by action.", "action",
            ("remove_dead_voter", s => s.Autopilot.VoterRemovals), ("remove_dead_learner", s => s.Autopilot.LearnerRemovals),
            ("promote", s => s.Autopilot.Promotions), ("add_learner", s => s.Autopilot.LearnersAdded));
        NodeCounter("walrus_autopilot_uncertified_total", "Gossip members autopilot did not add to Raft because they proved no node certificate naming them (once per member and leadership).", s => s.Autopilot.UncertifiedSkipped);
        NodeCounter("walrus_member_changes_total", "Operator membership changes committed with this node as leader.", s => s.Autopilot.OperatorChanges);
        NodeGauge("walrus_raft_removed", "1 when an operator removed this node from the cluster (it no longer votes).", s => s.Autopilot.Removed ? 1 : 0);
        NodeCounters("walrus_swim_received_total", "Gossip messages the membership layer received, by kind (datagram or push-pull stream).", "kind",
            ("datagram", s => s.Swim.Datagrams), ("stream", s => s.Swim.Streams));
        NodeCounters("walrus_swim_dropped_total", "Gossip messages or updates the membership layer dropped, by reason.", "reason",
            ("oversized", s => s.Swim.Oversized), ("malformed", s => s.Swim.Malformed), ("unknown_type", s => s.Swim.UnknownTypes), ("metadata_too_large", s => s.Swim.MetadataTooLarge));
        NodeCounter("walrus_swim_refutations_total", "Times this agent refuted a suspicion of itself (Lifeguard: a sign of its own slowness or of loss).", s => s.Swim.Refutations);
        NodeCounter("walrus_swim_failed_probes_total", "SWIM probes that got no ack, directly or through other members.", s => s.Swim.FailedProbes);
        NodeCounter("walrus_swim_broadcasts_dropped_total", "Membership updates dropped because the broadcast queue was full (push-pull repairs them).", s => s.Swim.BroadcastsDropped);
        NodeGauge("walrus_gossip_keys", "Keys in this agent's gossip keyring (0: gossip is plaintext).", s => s.Gossip.Keys);
        NodeCounters("walrus_gossip_dropped_total", "Gossip messages dropped before membership saw them, by reason.", "reason",
            ("plaintext", s => s.Gossip.DroppedPlaintext), ("unauthenticated", s => s.Gossip.DroppedUnauthenticated), ("no_keyring", s => s.Gossip.DroppedSealedWithoutKeyring));
        NodeCounter("walrus_consistency_checks_total", "Replica consistency rounds this node completed as leader.", s => s.Consistency.Checks);
        NodeCounter("walrus_consistency_compared_total", "Peer ranges whose hash the leader compared with its own.", s => s.Consistency.RangesCompared);
        NodeCounter("walrus_consistency_mismatches_total", "Peer ranges whose committed entries hashed differently from the leader's (a corrupt replica).", s => s.Consistency.Mismatches);
        NodeGauge("walrus_repair_in_progress", "1 while a damaged log range awaits repair from peers (the node abstains from elections).", s => s.Repair.Repairing ? 1 : 0);
        NodeCounter("walrus_repair_damaged_ranges_total", "Damaged log ranges found (start-up scrub or read).", s => s.Repair.DamagedRangesFound);
        NodeCounter("walrus_repair_entries_total", "Log entries rewritten from verified peer copies.", s => s.Repair.EntriesRepaired);
        NodeCounter("walrus_repair_dropped_below_checkpoint_total", "Damaged log ranges dropped with the log prefix because this node's checkpoint covered them.", s => s.Repair.DroppedBelowCheckpoint);
        NodeCounter("walrus_repair_replaced_by_checkpoint_total", "Damaged log ranges every peer had compacted, replaced by the leader's checkpoint.", s => s.Repair.ReplacedByCheckpoint);
        NodeCounter("walrus_repair_rejected_total", "Repair answers refused because an entry did not hold the expected index and term.", s => s.Repair.ResponsesRejected);
    }

    private void CreateAgentInstruments()
    {
        _meter.CreateObservableGauge("walrus_client_connections", () => _clientConnections(), description: "Open client connections.");
        _meter.CreateObservableCounter("walrus_protocol_errors_total", () => _protocolErrors(), description: "Connections closed for a protocol error.");
        _meter.CreateObservableCounter("walrus_client_overloaded_total", () => Overloaded, description: "Appends refused OVERLOADED by back-pressure.");
        _meter.CreateObservableCounter("walrus_auth_denied_total", () => new[]
        {
            new Measurement<long>(PermissionDenied, Tag("reason", "permission_denied")),
            new Measurement<long>(Unauthenticated, Tag("reason", "unauthenticated")),
        }, description: "Client requests and connections refused by authentication or authorization, by reason.");
        _meter.CreateObservableGauge("walrus_tls_certificate_expiry_seconds", () => _certificate() is { } presented
            ? [new Measurement<double>(Math.Round((presented.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalSeconds))]
            : Array.Empty<Measurement<double>>(), description: "Seconds until the TLS certificate this agent presents expires (negative: expired).");
        _meter.CreateObservableCounter("walrus_tls_certificate_reloads_total", () =>
        {
            var (reloaded, refused) = _certificateReloads();
            return new[] { new Measurement<long>(reloaded, Tag("result", "ok")), new Measurement<long>(refused, Tag("result", "refused")) };
        }, description: "Certificate reloads (SIGHUP), by result.");
        TransportCounter("walrus_transport_connections_accepted_total", "Inbound connections accepted (TLS done), by port.", c => c.ConnectionsAccepted);
        TransportCounter("walrus_transport_connections_opened_total", "Outbound connections opened (TLS done), by port.", c => c.ConnectionsOpened);
        TransportCounter("walrus_transport_tls_handshake_failures_total", "TLS handshakes that failed (bad or untrusted certificate, timeout), by port.", c => c.TlsHandshakeFailures);
        TransportCounter("walrus_transport_frames_sent_total", "Frames sent, by port.", c => c.FramesSent);
        TransportCounter("walrus_transport_frames_received_total", "Frames received, by port.", c => c.FramesReceived);
        TransportCounter("walrus_transport_sent_bytes_total", "Frame bytes sent, by port.", c => c.BytesSent);
        TransportCounter("walrus_transport_received_bytes_total", "Frame bytes received, by port.", c => c.BytesReceived);
        _meter.CreateObservableGauge("walrus_dotnet_gc_heap_bytes", () => GC.GetGCMemoryInfo().HeapSizeBytes, description: "Managed heap size after the last garbage collection.");
        _meter.CreateObservableGauge("walrus_dotnet_gc_committed_bytes", () => GC.GetGCMemoryInfo().TotalCommittedBytes, description: "Memory the garbage collector has committed from the operating system.");
        _meter.CreateObservableGauge("walrus_dotnet_threadpool_threads", () => ThreadPool.ThreadCount, description: "Thread-pool threads.");
    }

    private void TransportCounter(string name, string description, Func<TransportCounters, long> read) =>
        _meter.CreateObservableCounter(name, () => _transport is { } t
            ? [new Measurement<long>(read(t.Peer), Tag("port", "peer")), new Measurement<long>(read(t.Client), Tag("port", "client"))]
            : Array.Empty<Measurement<long>>(), description: description);
}
