using System.Globalization;
using System.Text;
using WalrusGossip.Membership;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// The agent's counters and latency histograms, rendered in the Prometheus text exposition format (version 0.0.4).
/// Recording is lock-free (<see cref="Interlocked"/>); histograms use fixed exponential buckets.
/// </summary>
public sealed class AgentMetrics
{
    private static readonly double[] LatencyBucketsSeconds = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];
    private readonly Histogram _appendLatency = new(LatencyBucketsSeconds);
    private Func<long> _clientConnections = () => 0;
    private Func<long> _protocolErrors = () => 0;
    private long _overloaded;
    private Func<System.Security.Cryptography.X509Certificates.X509Certificate2?> _certificate = () => null;
    private Func<(long Reloaded, long Refused)> _certificateReloads = () => (0, 0);
    private long _deniedPermission;
    private long _refusedUnauthenticated;

    /// <summary>Records one client append's latency, from request receipt to commit.</summary>
    /// <param name="elapsed">The latency.</param>
    public void ObserveAppend(TimeSpan elapsed) => _appendLatency.Observe(elapsed.TotalSeconds);

    /// <summary>Upper bounds, in seconds, of the append latency histogram's buckets (the last bucket, beyond them, is unbounded).</summary>
    public static IReadOnlyList<double> AppendLatencyBoundsSeconds => LatencyBucketsSeconds;

    /// <summary>The append latency histogram since start: per-bucket (not cumulative) counts, one per bound of <see cref="AppendLatencyBoundsSeconds"/> and then the unbounded bucket.</summary>
    /// <returns>A copy of the counts.</returns>
    public long[] AppendLatencyCounts() => _appendLatency.CopyCounts();

    /// <summary>Counts one append refused OVERLOADED because too many bytes of appends were waiting (back-pressure).</summary>
    public void CountOverloaded() => Interlocked.Increment(ref _overloaded);

    /// <summary>Counts one request answered PERMISSION_DENIED.</summary>
    public void CountPermissionDenied() => Interlocked.Increment(ref _deniedPermission);

    /// <summary>Counts one client Hello refused for missing or invalid credentials.</summary>
    public void CountUnauthenticated() => Interlocked.Increment(ref _refusedUnauthenticated);

    /// <summary>Requests answered PERMISSION_DENIED so far.</summary>
    public long PermissionDenied => Interlocked.Read(ref _deniedPermission);

    /// <summary>Client connections refused for missing or invalid credentials so far.</summary>
    public long Unauthenticated => Interlocked.Read(ref _refusedUnauthenticated);

    /// <summary>Appends refused OVERLOADED so far.</summary>
    public long Overloaded => Interlocked.Read(ref _overloaded);

    /// <summary>Connects the gauges that live elsewhere: open client connections and connections closed for protocol errors.</summary>
    /// <param name="clientConnections">Reads the open client connection count.</param>
    /// <param name="protocolErrors">Reads the number of connections closed for a protocol error (bad frame, version mismatch), all ports.</param>
    public void Bind(Func<long> clientConnections, Func<long> protocolErrors)
    {
        _clientConnections = clientConnections;
        _protocolErrors = protocolErrors;
    }

    /// <summary>Connects the certificate gauges: the certificate presented now and the reload counts.</summary>
    /// <param name="certificate">Reads the presented certificate.</param>
    /// <param name="reloads">Reads the reload counts.</param>
    public void BindCertificate(Func<System.Security.Cryptography.X509Certificates.X509Certificate2?> certificate, Func<(long Reloaded, long Refused)> reloads)
    {
        _certificate = certificate;
        _certificateReloads = reloads;
    }

    /// <summary>Renders every metric.</summary>
    /// <param name="status">Current agent status.</param>
    /// <returns>Prometheus text.</returns>
    public string Render(AgentStatus status)
    {
        ArgumentNullException.ThrowIfNull(status);
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        void Gauge(string name, string help, double value)
        {
            sb.Append(inv, $"# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value.ToString(inv)}\n");
        }

        void Counter(string name, string help, long value)
        {
            sb.Append(inv, $"# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n");
        }

        sb.Append("# HELP walrus_raft_role Raft role of this node (1 for the current role).\n# TYPE walrus_raft_role gauge\n");
        foreach (var role in new[] { "leader", "follower", "candidate", "learner" })
        {
            sb.Append(inv, $"walrus_raft_role{{role=\"{role}\"}} {(status.RoleName == role ? 1 : 0)}\n");
        }

        Gauge("walrus_raft_term", "Current Raft term.", status.Node.Term);
        Gauge("walrus_raft_commit_index", "Highest index known committed.", status.Node.CommitIndex);
        Gauge("walrus_raft_applied_index", "Highest index applied.", status.Node.AppliedIndex);
        Gauge("walrus_log_last_index", "Last index in the local log.", status.Node.LastIndex);
        Gauge("walrus_log_segments", "Segment files in the local log.", status.SegmentCount);
        Gauge("walrus_log_bytes", "Bytes of record data in the local log.", status.LogBytes);
        Gauge("walrus_client_connections", "Open client connections.", _clientConnections());
        Counter("walrus_protocol_errors_total", "Connections closed for a protocol error.", _protocolErrors());
        sb.Append("# HELP walrus_swim_members SWIM members by state in this node's view.\n# TYPE walrus_swim_members gauge\n");
        foreach (var state in Enum.GetValues<MemberState>())
        {
            var count = 0;
            foreach (var m in status.Members)
            {
                if (m.State == state)
                {
                    count++;
                }
            }

            sb.Append(inv, $"walrus_swim_members{{state=\"{state.ToString().ToLowerInvariant()}\"}} {count}\n");
        }

        RenderGroupCommits(sb, status.GroupCommitLatency);
        _appendLatency.Render(sb, "walrus_append_latency_seconds", "Client append latency from receipt to commit.");
        Counter("walrus_client_overloaded_total", "Appends refused OVERLOADED by back-pressure.", Overloaded);
        if (_certificate() is { } presented)
        {
            Gauge("walrus_tls_certificate_expiry_seconds", "Seconds until the TLS certificate this agent presents expires (negative: expired).", Math.Round((presented.NotAfter.ToUniversalTime() - DateTime.UtcNow).TotalSeconds));
        }

        var (reloaded, refused) = _certificateReloads();
        sb.Append("# HELP walrus_tls_certificate_reloads_total Certificate reloads (SIGHUP), by result.\n# TYPE walrus_tls_certificate_reloads_total counter\n");
        sb.Append(inv, $"walrus_tls_certificate_reloads_total{{result=\"ok\"}} {reloaded}\n");
        sb.Append(inv, $"walrus_tls_certificate_reloads_total{{result=\"refused\"}} {refused}\n");
        sb.Append("# HELP walrus_auth_denied_total Client requests and connections refused by authentication or authorization, by reason.\n# TYPE walrus_auth_denied_total counter\n");
        sb.Append(inv, $"walrus_auth_denied_total{{reason=\"permission_denied\"}} {PermissionDenied}\n");
        sb.Append(inv, $"walrus_auth_denied_total{{reason=\"unauthenticated\"}} {Unauthenticated}\n");
        sb.Append("# HELP walrus_autopilot_changes_total Membership changes autopilot proposed as leader, by action.\n# TYPE walrus_autopilot_changes_total counter\n");
        sb.Append(inv, $"walrus_autopilot_changes_total{{action=\"remove_dead_voter\"}} {status.Autopilot.VoterRemovals}\n");
        sb.Append(inv, $"walrus_autopilot_changes_total{{action=\"remove_dead_learner\"}} {status.Autopilot.LearnerRemovals}\n");
        sb.Append(inv, $"walrus_autopilot_changes_total{{action=\"promote\"}} {status.Autopilot.Promotions}\n");
        sb.Append(inv, $"walrus_autopilot_changes_total{{action=\"add_learner\"}} {status.Autopilot.LearnersAdded}\n");
        Counter("walrus_autopilot_uncertified_total", "Gossip members autopilot did not add to Raft because they proved no node certificate naming them (once per member and leadership).", status.Autopilot.UncertifiedSkipped);
        Counter("walrus_member_changes_total", "Operator membership changes committed with this node as leader.", status.Autopilot.OperatorChanges);
        Gauge("walrus_raft_removed", "1 when an operator removed this node from the cluster (it no longer votes).", status.Autopilot.Removed ? 1 : 0);
        Gauge("walrus_gossip_keys", "Keys in this agent's gossip keyring (0: gossip is plaintext).", status.Gossip.Keys);
        sb.Append("# HELP walrus_gossip_dropped_total Gossip messages dropped before membership saw them, by reason.\n# TYPE walrus_gossip_dropped_total counter\n");
        sb.Append(inv, $"walrus_gossip_dropped_total{{reason=\"plaintext\"}} {status.Gossip.DroppedPlaintext}\n");
        sb.Append(inv, $"walrus_gossip_dropped_total{{reason=\"unauthenticated\"}} {status.Gossip.DroppedUnauthenticated}\n");
        sb.Append(inv, $"walrus_gossip_dropped_total{{reason=\"no_keyring\"}} {status.Gossip.DroppedSealedWithoutKeyring}\n");
        Counter("walrus_consistency_checks_total", "Replica consistency rounds this node completed as leader.", status.Consistency.Checks);
        Counter("walrus_consistency_compared_total", "Peer ranges whose hash the leader compared with its own.", status.Consistency.RangesCompared);
        Counter("walrus_consistency_mismatches_total", "Peer ranges whose committed entries hashed differently from the leader's (a corrupt replica).", status.Consistency.Mismatches);
        Gauge("walrus_repair_in_progress", "1 while a damaged log range awaits repair from peers (the node abstains from elections).", status.Repair.Repairing ? 1 : 0);
        Counter("walrus_repair_damaged_ranges_total", "Damaged log ranges found (start-up scrub or read).", status.Repair.DamagedRangesFound);
        Counter("walrus_repair_entries_total", "Log entries rewritten from verified peer copies.", status.Repair.EntriesRepaired);
        Counter("walrus_repair_rejected_total", "Repair answers refused because an entry did not hold the expected index and term.", status.Repair.ResponsesRejected);
        Gauge("walrus_raft_voters", "Voters in the configuration this node follows.", status.Node.Voters.Count);
        Gauge("walrus_raft_learners", "Learners in the configuration this node follows.", status.Node.Learners.Count);
        var gc = GC.GetGCMemoryInfo();
        Gauge("walrus_dotnet_gc_heap_bytes", "Managed heap size after the last garbage collection.", gc.HeapSizeBytes);
        Gauge("walrus_dotnet_gc_committed_bytes", "Memory the garbage collector has committed from the operating system.", gc.TotalCommittedBytes);
        Gauge("walrus_dotnet_threadpool_threads", "Thread-pool threads.", ThreadPool.ThreadCount);
        return sb.ToString();
    }

    /// <summary>The log's group commits (write + fdatasync) as the histogram <c>walrus_log_fsync_seconds</c>: the flush-latency tail, like etcd's <c>wal_fsync_duration_seconds</c>.</summary>
    private static void RenderGroupCommits(StringBuilder sb, GroupCommitHistogram histogram)
    {
        Span<long> counts = stackalloc long[GroupCommitHistogram.BoundsSeconds.Count + 1];
        histogram.CopyCounts(counts);
        AppendHistogram(sb, "walrus_log_fsync_seconds", "Group-commit write + fdatasync time of the local log.", GroupCommitHistogram.BoundsSeconds, counts, histogram.Sum.TotalSeconds);
    }

    /// <summary>Writes one Prometheus histogram: cumulative <c>_bucket</c> lines for each bound and <c>+Inf</c>, then <c>_sum</c> and <c>_count</c>.</summary>
    /// <param name="counts">Per-bucket (not cumulative) counts: one per bound, then the unbounded bucket.</param>
    private static void AppendHistogram(StringBuilder sb, string name, string help, IReadOnlyList<double> bounds, ReadOnlySpan<long> counts, double sumSeconds)
    {
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"# HELP {name} {help}\n# TYPE {name} histogram\n");
        long cumulative = 0;
        for (var i = 0; i < bounds.Count; i++)
        {
            cumulative += counts[i];
            sb.Append(inv, $"{name}_bucket{{le=\"{bounds[i].ToString(inv)}\"}} {cumulative}\n");
        }

        cumulative += counts[bounds.Count];
        sb.Append(inv, $"{name}_bucket{{le=\"+Inf\"}} {cumulative}\n{name}_sum {sumSeconds.ToString(inv)}\n{name}_count {cumulative}\n");
    }

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private long _sumMicros;

        public void Observe(double seconds)
        {
            var i = 0;
            while (i < bounds.Length && seconds > bounds[i])
            {
                i++;
            }

            Interlocked.Increment(ref _counts[i]);
            Interlocked.Add(ref _sumMicros, (long)(seconds * 1e6));
        }

        public long[] CopyCounts()
        {
            var counts = new long[_counts.Length];
            for (var i = 0; i < _counts.Length; i++)
            {
                counts[i] = Interlocked.Read(ref _counts[i]);
            }

            return counts;
        }

        public void Render(StringBuilder sb, string name, string help)
        {
            Span<long> counts = stackalloc long[_counts.Length];
            for (var i = 0; i < _counts.Length; i++)
            {
                counts[i] = Interlocked.Read(ref _counts[i]);
            }

            AppendHistogram(sb, name, help, bounds, counts, Interlocked.Read(ref _sumMicros) / 1e6);
        }
    }
}
