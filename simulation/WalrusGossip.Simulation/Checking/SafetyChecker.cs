using System.Globalization;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Simulation.Core;

namespace WalrusGossip.Simulation.Checking;

/// <summary>
/// The safety checkers, run after every event (Raft paper Figure 3 plus the client-visible guarantees):
/// election safety (at most one leader per term), log matching, leader completeness, the leader commit rule (§5.4.2), state machine safety
/// (committed prefixes agree on every node), acknowledged appends (each acknowledged index holds that append and is
/// the first occurrence of its (clientId, sequence) in the committed log), and stale reads returning committed data,
/// each append once. The committed log is applied, in order, to a reference <see cref="LogStateMachine"/> (the same
/// type every node runs), which decides what is a duplicate; the checker never decodes payloads itself.
/// Linearizable reads, liveness and SWIM views are checked by the simulation where those operations complete.
/// </summary>
/// <remarks>
/// Incremental: each node's log is mirrored as a list of terms and only its changed suffix is read after an event;
/// the global map from (index, term) to (entry, previous term) makes log matching a local check (two logs that agree
/// on an (index, term) agree on the entry and, by induction on the previous term, on the whole prefix).
/// Every <see cref="FullCheckInterval"/> of virtual time, and at the end, every log is re-read from the start.
/// </remarks>
internal sealed class SafetyChecker(ClusterSimulation sim)
{
    private static readonly TimeSpan FullCheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>Mirror value of an entry a node no longer holds because a snapshot (installed or its own checkpoint) covers it.</summary>
    private const ulong Compacted = ulong.MaxValue;

    private readonly Dictionary<ulong, int> _leaderByTerm = [];
    private readonly List<Committed> _committed = [];
    private readonly Dictionary<(ulong Index, ulong Term), Known> _entries = [];
    private readonly Dictionary<(ulong Client, ulong Sequence), ulong> _firstOccurrence = [];
    private readonly Dictionary<int, List<ulong>> _mirror = [];
    private readonly Dictionary<int, List<ulong>> _configIndexes = [];
    private readonly Dictionary<int, ulong> _verifiedCommit = [];
    private readonly Dictionary<int, long> _installs = [];
    private readonly Dictionary<int, (ulong Term, ulong Commit)> _leaderCommit = [];
    private readonly List<(int Node, ulong Client, ulong Sequence, ulong Index, ulong StreamSequence)> _acks = [];
    private readonly List<(ulong Index, string Heads, string Consumers)> _streamHistory = [(0, string.Empty, string.Empty)];
    private readonly HashSet<ulong> _consumerProcessed = [];
    private readonly Dictionary<ulong, SortedSet<ulong>> _consumerHeld = [];
    private readonly Dictionary<ulong, ulong> _lastFirstDelivery = [];
    private ulong _consumerLostBefore;
    private ulong _consumerCheckedTo;
    private readonly List<(int Node, ulong Applied, List<CommittedEntry> Entries)> _staleReads = [];
    private readonly LogStateMachine _model = new();
    private readonly Dictionary<ulong, ulong> _modelStreamSequence = [];
    private readonly List<(ulong Index, string Digest)> _policyHistory = [(0, SecurityPolicy.Empty.Digest())];
    private TimeSpan _nextFullCheck = FullCheckInterval;

    /// <summary>Called after each event; <paramref name="nodeId"/> is the node it touched (0 for simulator actions).</summary>
    /// <param name="nodeId">Node id or 0.</param>
    public void AfterStep(int nodeId)
    {
        if (nodeId != 0 && sim.Nodes[nodeId - 1] is { Up: true } node)
        {
            CheckNode(node);
        }

        if (sim.Now >= _nextFullCheck)
        {
            _nextFullCheck = sim.Now + FullCheckInterval;
            FullCheck();
        }

        CheckAcks();
    }

    /// <summary>End of run: re-read every log and settle outstanding checks.</summary>
    public void Final()
    {
        FullCheck();
        CheckAcks(final: true);
        CheckConsumerFinal();
    }

    /// <summary>A node (re)started: its mirror restarts from an empty log.</summary>
    /// <param name="node">The node.</param>
    public void NodeStarted(SimNode node)
    {
        _mirror[node.Id] = [];
        _configIndexes[node.Id] = [];
        _verifiedCommit[node.Id] = 0;
    }

    /// <summary>A node told a client its append is committed at <paramref name="index"/>.</summary>
    /// <param name="nodeId">Acknowledging node.</param>
    /// <param name="client">Client id.</param>
    /// <param name="sequence">Sequence.</param>
    /// <param name="index">Acknowledged index.</param>
    /// <param name="streamSequence">The stream sequence the node told the client; <see cref="ulong.MaxValue"/> for "unknown, the first copy was compacted" (not checked).</param>
    public void Acknowledged(int nodeId, ulong client, ulong sequence, ulong index, ulong streamSequence) => _acks.Add((nodeId, client, sequence, index, streamSequence));

    /// <summary>A node served a local read of committed entries from its committed view.</summary>
    /// <param name="nodeId">Node.</param>
    /// <param name="applied">The view's applied index.</param>
    /// <param name="entries">What it returned.</param>
    public void StaleRead(int nodeId, ulong applied, List<CommittedEntry> entries) => _staleReads.Add((nodeId, applied, entries));

    private void FullCheck()
    {
        foreach (var node in sim.Nodes)
        {
            if (node.Up)
            {
                NodeStarted(node);
                CheckNode(node);
                CheckSecurityPolicy(node);
                CheckStreams(node);
            }
        }

        CheckConsumerFinal(); // also every full check: the floor only ever covers acknowledged deliveries
    }

    /// <summary>
    /// Every node enforces the authorization state of the committed log up to its applied index: its policy equals the
    /// reference state machine's after the last Security entry at or below that index (checkpoints and snapshot
    /// installs included).
    /// </summary>
    private void CheckSecurityPolicy(SimNode node)
    {
        var process = node.Process!;
        var applied = process.AppliedIndex;
        if (applied > _model.AppliedIndex)
        {
            return; // the reference has not seen that far yet (it follows the commit points it observed)
        }

        var at = _policyHistory.FindLastIndex(p => p.Index <= applied);
        var (index, expected) = _policyHistory[at];
        var actual = process.SecurityPolicy.Digest();
        if (actual != expected)
        {
            sim.Fail("security-policy", string.Create(CultureInfo.InvariantCulture,
                $"n{node.Id} applied through {applied} enforces policy {actual}, but the committed log's Security entries through {index} give {expected}"));
        }
    }

    private void CheckNode(SimNode node)
    {
        var process = node.Process!;
        var status = process.Status;
        UpdateMirror(node, process);
        if (status.Role == RaftRole.Leader)
        {
            if (_leaderByTerm.TryGetValue(status.Term, out var other))
            {
                if (other != node.Id)
                {
                    sim.Fail("election-safety", $"two leaders in term {status.Term}: n{other} and n{node.Id}");
                    return;
                }
            }
            else
            {
                _leaderByTerm[status.Term] = node.Id;
                sim.Stats.Elections++;
                CheckLeaderCompleteness(node, process, status.Term);
            }
        }

        CheckOwnTermCommit(node, status);
        CheckCommit(node, status.CommitIndex);
        CheckCertifiedMembers(node, status);
        if (process.LastConsistencyMismatch is { } m)
        {
            sim.Fail("consistency-check", string.Create(CultureInfo.InvariantCulture,
                $"leader n{node.Id} found its committed entries {m.FirstIndex}..{m.LastIndex} differ from n{m.PeerId}'s (hashes {m.LeaderHash:x16}/{m.PeerHash:x16}), but every log agrees with the committed one"));
        }
    }

    /// <summary>
    /// Issue 19: every node numbers the entries of each stream as the committed log does, from 1 without gaps: its
    /// streams' last sequences at its applied index equal the reference state machine's at that index (trimming by
    /// retention and snapshot installs keep sequences, so they are compared whatever each node has compacted).
    /// </summary>
    private void CheckStreams(SimNode node)
    {
        var process = node.Process!;
        var applied = process.AppliedIndex;
        if (applied > _model.AppliedIndex)
        {
            return;
        }

        var at = _streamHistory.FindLastIndex(p => p.Index <= applied);
        var (index, expected, expectedConsumers) = _streamHistory[at];
        var actual = StreamHeads(process.Committed.Streams, applied);
        if (actual != expected)
        {
            sim.Fail("stream-sequence", string.Create(CultureInfo.InvariantCulture,
                $"n{node.Id} applied through {applied} holds streams [{actual}], but the committed log through {index} gives [{expected}]"));
            return;
        }

        var consumers = process.Consumers.Describe();
        if (consumers != expectedConsumers)
        {
            sim.Fail("consumer-position", string.Create(CultureInfo.InvariantCulture,
                $"n{node.Id} applied through {applied} holds consumer positions [{consumers}], but the committed log through {index} gives [{expectedConsumers}]"));
        }
    }

    /// <summary>
    /// A consumer instance was handed <paramref name="result"/> by leader n<paramref name="nodeId"/>: every delivery is
    /// the committed entry of that stream sequence, and within one leadership first deliveries go up in sequence order.
    /// </summary>
    /// <param name="nodeId">The leader.</param>
    /// <param name="instance">The instance.</param>
    /// <param name="result">What it was given.</param>
    public void ConsumerDelivered(int nodeId, ulong instance, ConsumerFetchResult result)
    {
        _consumerLostBefore = Math.Max(_consumerLostBefore, result.CompactedBefore);
        foreach (var d in result.Deliveries)
        {
            if (d.Index == 0 || d.Index > (ulong)_committed.Count || _modelStreamSequence.GetValueOrDefault(d.Index) != d.Sequence ||
                !LogStateMachine.TryDecodeAppend(_entries[(d.Index, _committed[(int)d.Index - 1].Term)].Payload, out var stream, out _) || stream != "sm0")
            {
                sim.Fail("consumer-delivery", string.Create(CultureInfo.InvariantCulture,
                    $"leader n{nodeId} gave instance {instance} sequence {d.Sequence} at index {d.Index}, which is not that committed entry of stream sm0"));
                return;
            }

            if (d.DeliveryCount == 1)
            {
                if (_lastFirstDelivery.TryGetValue(result.Term, out var last) && d.Sequence <= last)
                {
                    sim.Fail("consumer-order", string.Create(CultureInfo.InvariantCulture,
                        $"leader n{nodeId} of term {result.Term} first delivered sequence {d.Sequence} after sequence {last}"));
                    return;
                }

                _lastFirstDelivery[result.Term] = d.Sequence;
            }

            if (!_consumerHeld.TryGetValue(instance, out var held))
            {
                _consumerHeld[instance] = held = [];
            }

            held.Add(d.Sequence);
        }
    }

    /// <summary>A leader took instance <paramref name="instance"/>'s cumulative ack: what it was given up to <paramref name="upTo"/> is processed.</summary>
    /// <param name="instance">The instance (incarnation) that acknowledged.</param>
    /// <param name="upTo">Highest sequence acknowledged.</param>
    public void ConsumerAcked(ulong instance, ulong upTo)
    {
        if (_consumerHeld.TryGetValue(instance, out var held))
        {
            while (held.Count > 0 && held.Min <= upTo)
            {
                _consumerProcessed.Add(held.Min);
                held.Remove(held.Min);
            }
        }
    }

    /// <summary>
    /// End of run: every sequence at or below the consumer's replicated ack floor was delivered to an instance that then
    /// acknowledged it (at-least-once processing), unless retention removed it before any delivery.
    /// </summary>
    private void CheckConsumerFinal()
    {
        if (_model.Consumers.Find("sm0", "c1") is not { } consumer)
        {
            return;
        }

        sim.Stats.ConsumerAckFloor = consumer.AckFloor;
        for (var s = Math.Max(_consumerCheckedTo + 1, _consumerLostBefore); s <= consumer.AckFloor; s++)
        {
            if (!_consumerProcessed.Contains(s))
            {
                sim.Fail("consumer-at-least-once", string.Create(CultureInfo.InvariantCulture,
                    $"the consumer's replicated ack floor is {consumer.AckFloor}, but sequence {s} of sm0 was never acknowledged by an instance it was delivered to"));
                return;
            }
        }

        _consumerCheckedTo = Math.Max(_consumerCheckedTo, consumer.AckFloor);
    }

    /// <summary>Each stream's name and last sequence at <paramref name="upTo"/>, by name (streams without an entry by then left out).</summary>
    private static string StreamHeads(StreamIndex streams, ulong upTo) =>
        string.Join(' ', streams.List(upTo).Where(s => s.LastSequence > 0).Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name}:{s.LastSequence}")));

    /// <summary>
    /// Issue 18: only nodes holding a node certificate join the Raft configuration. The simulated impostor speaks gossip
    /// (sometimes with the current key) but has no certificate, so no configuration a node holds may name it.
    /// </summary>
    private void CheckCertifiedMembers(SimNode node, NodeStatus status)
    {
        foreach (var id in status.Voters.Concat(status.Learners))
        {
            if (id == 0 || id > (ulong)sim.Nodes.Count)
            {
                sim.Fail("certified-members", string.Create(CultureInfo.InvariantCulture,
                    $"n{node.Id}'s configuration (voters {string.Join(',', status.Voters)}, learners {string.Join(',', status.Learners)}) names node {id}, which holds no node certificate"));
                return;
            }
        }
    }

    /// <summary>
    /// Paper §5.4.2 (Figure 8): a leader advances its commit index only to an entry of its own term, by counting
    /// replicas; older entries commit indirectly. Checked on every commit advance observed while a node stays leader of one term.
    /// </summary>
    private void CheckOwnTermCommit(SimNode node, NodeStatus status)
    {
        _leaderCommit.TryGetValue(node.Id, out var previous);
        if (status.Role != RaftRole.Leader)
        {
            _leaderCommit.Remove(node.Id);
            return;
        }

        _leaderCommit[node.Id] = (status.Term, status.CommitIndex);
        if (previous.Term == status.Term && status.CommitIndex > previous.Commit)
        {
            var mirror = _mirror[node.Id];
            var term = status.CommitIndex <= (ulong)mirror.Count ? mirror[(int)status.CommitIndex - 1] : 0;
            if (term != status.Term && term != Compacted)
            {
                sim.Fail("leader-commit-rule", string.Create(CultureInfo.InvariantCulture,
                    $"leader n{node.Id} of term {status.Term} advanced its commit index from {previous.Commit} to {status.CommitIndex}, an entry of term {term}: only entries of the leader's own term commit by counting replicas (§5.4.2)"));
            }
        }
    }

    private void UpdateMirror(SimNode node, WalrusNode process)
    {
        var log = process.LocalLog;
        var mirror = _mirror[node.Id];
        var last = log.LastIndex;
        var first = Math.Max(1, log.FirstIndex);
        if ((ulong)mirror.Count > last)
        {
            mirror.RemoveRange((int)last, mirror.Count - (int)last);
        }

        // After an installed snapshot (it wipes the log before it), entries below the node's first index that the
        // checker had not verified as committed say nothing about what was committed: forget them. Entries the node's
        // own retention deleted were its own and stay, so the commit check still sees them.
        if (_installs.GetValueOrDefault(node.Id) != process.SnapshotsInstalled)
        {
            _installs[node.Id] = process.SnapshotsInstalled;
            var verified = _verifiedCommit.TryGetValue(node.Id, out var v) ? v : 0;
            for (var index = verified + 1; index < first && index <= (ulong)mirror.Count; index++)
            {
                mirror[(int)index - 1] = Compacted;
            }
        }

        var same = (ulong)mirror.Count;
        while (same >= first && mirror[(int)same - 1] != log.TermAt(same))
        {
            same--;
        }

        if (same < (ulong)mirror.Count)
        {
            mirror.RemoveRange((int)same, mirror.Count - (int)same);
        }

        // No mirrored entry at or above the first index still matches the log (the mirror ends below it, or every
        // entry it shares with the log differs): since the last observation the node may have replaced a conflicting
        // suffix that starts below its first index and then compacted past it (a learner far behind receives a long
        // Append, truncates the conflict, applies, checkpoints and retains, all in one step; seed 3). The mirrored
        // entries below the first index that were not verified as committed may then be ones the node discarded, not
        // its own: forget them, as after an installed snapshot. Entries from the first index on are read again below.
        if (same < first)
        {
            var verified = _verifiedCommit.TryGetValue(node.Id, out var v) ? v : 0;
            for (var index = verified + 1; index <= same; index++)
            {
                mirror[(int)index - 1] = Compacted;
            }
        }

        for (var index = (ulong)mirror.Count + 1; index <= last; index++)
        {
            if (index < first)
            {
                mirror.Add(Compacted);
                continue;
            }

            LogEntry entry;
            try
            {
                entry = log.Read(index);
            }
            catch (Exception e) when (e is LogCorruptionException or DamagedEntryException)
            {
                // A damaged record awaiting protocol-aware repair: its term is known, its bytes are checked once it is
                // repaired (the next full check re-reads every log and compares it with the committed entry).
                mirror.Add(log.TermAt(index));
                continue;
            }

            var previousTerm = index > 1 ? mirror[(int)index - 2] : 0;
            var key = (index, entry.Term);
            if (_entries.TryGetValue(key, out var known))
            {
                var previousDiffers = known.PreviousTerm != previousTerm && known.PreviousTerm != Compacted && previousTerm != Compacted;
                if (known.Type != entry.Type || previousDiffers || !known.Payload.AsSpan().SequenceEqual(entry.Payload.Span))
                {
                    sim.Fail("log-matching", string.Create(CultureInfo.InvariantCulture,
                        $"n{node.Id} holds a different entry ({index}, term {entry.Term}, previous term {previousTerm}) than another node (previous term {known.PreviousTerm})"));
                    return;
                }
            }
            else
            {
                _entries[key] = new Known(entry.Type, previousTerm, entry.Payload.ToArray());
            }

            if (entry.Type == EntryType.ConfigChange)
            {
                CheckOneChangeInFlight(node, process, index, entry.Term);
            }

            mirror.Add(entry.Term);
        }
    }

    /// <summary>
    /// Single-server changes (dissertation §4.1): a leader appends a configuration entry only once the previous one is
    /// committed, so at most one change is ever in flight. Checked when a leader's own new configuration entry is first
    /// read; the list of configuration indexes follows the mirror (truncated with it).
    /// </summary>
    private void CheckOneChangeInFlight(SimNode node, WalrusNode process, ulong index, ulong term)
    {
        var configs = _configIndexes[node.Id];
        configs.RemoveAll(i => i >= index);
        var status = process.Status;
        if (configs.Count > 0 && status.Role == RaftRole.Leader && term == status.Term && configs[^1] > status.CommitIndex)
        {
            sim.Fail("one-config-change", string.Create(CultureInfo.InvariantCulture,
                $"leader n{node.Id} of term {term} appended configuration entry {index} while the previous one ({configs[^1]}) was uncommitted (commit index {status.CommitIndex})"));
        }

        configs.Add(index);
    }

    private void CheckLeaderCompleteness(SimNode node, WalrusNode process, ulong term)
    {
        var mirror = _mirror[node.Id];
        for (var i = 0; i < _committed.Count; i++)
        {
            var committed = _committed[i];
            if (committed.KnownBeforeTerm >= term)
            {
                continue;
            }

            if (i >= mirror.Count || (mirror[i] != committed.Term && mirror[i] != Compacted))
            {
                sim.Fail("leader-completeness", string.Create(CultureInfo.InvariantCulture,
                    $"n{node.Id} became leader of term {term} without committed entry {i + 1} (term {committed.Term}); its last index is {process.LocalLog.LastIndex}"));
                return;
            }
        }
    }

    private void CheckCommit(SimNode node, ulong commit)
    {
        var mirror = _mirror[node.Id];
        var verified = _verifiedCommit[node.Id];
        commit = Math.Min(commit, (ulong)mirror.Count);
        for (var index = verified + 1; index <= commit; index++)
        {
            var term = mirror[(int)index - 1];
            if (term == Compacted)
            {
                if (index > (ulong)_committed.Count)
                {
                    commit = index - 1; // covered by a snapshot before the checker saw it committed: learn it from another node
                    break;
                }

                continue;
            }

            if (index <= (ulong)_committed.Count)
            {
                var known = _committed[(int)index - 1];
                if (known.Term != term)
                {
                    sim.Fail("committed-prefix", string.Create(CultureInfo.InvariantCulture,
                        $"n{node.Id} committed entry {index} of term {term}, but entry {index} of term {known.Term} was committed before"));
                    return;
                }

                continue;
            }

            if (!_entries.TryGetValue((index, term), out var entry))
            {
                commit = index - 1; // its record is damaged here, awaiting repair: learn the entry from another node
                break;
            }

            _committed.Add(new Committed(term, MaxTerm()));
            sim.Stats.CommittedEntries = index;
            ApplyToModel(node, index, term, entry);
        }

        _verifiedCommit[node.Id] = Math.Max(verified, commit);
    }

    /// <summary>Applies a newly committed entry to the reference state machine and records first occurrences of appends.</summary>
    private void ApplyToModel(SimNode node, ulong index, ulong term, Known entry)
    {
        var outcome = _model.Apply(new LogEntry(index, term, entry.Type, entry.Payload));
        if (entry.Type == EntryType.Security)
        {
            _policyHistory.Add((index, _model.Security.Digest()));
        }

        if (outcome.Kind == AppliedKind.Application && outcome.StreamSequence != 0)
        {
            _modelStreamSequence[index] = outcome.StreamSequence;
            _streamHistory.Add((index, StreamHeads(_model.Streams, index), _streamHistory[^1].Consumers));
        }

        if (entry.Type == EntryType.Consumer)
        {
            var consumers = _model.Consumers.Describe();
            _streamHistory.Add((index, _streamHistory[^1].Heads, consumers));
        }

        switch (outcome.Kind)
        {
            case AppliedKind.Application when outcome.ClientId != 0:
                if (!_firstOccurrence.TryAdd((outcome.ClientId, outcome.Sequence), index))
                {
                    sim.Fail("exactly-once", string.Create(CultureInfo.InvariantCulture,
                        $"the state machine applied ({outcome.ClientId}, {outcome.Sequence}) again at entry {index} (committed via n{node.Id}); its first copy is at {_firstOccurrence[(outcome.ClientId, outcome.Sequence)]}"));
                }

                break;
            case AppliedKind.Duplicate:
                if (!_firstOccurrence.TryGetValue((outcome.ClientId, outcome.Sequence), out var first) || first != outcome.OriginalIndex)
                {
                    sim.Fail("state-machine", string.Create(CultureInfo.InvariantCulture,
                        $"the state machine took entry {index} (committed via n{node.Id}) for a copy of ({outcome.ClientId}, {outcome.Sequence}) at {outcome.OriginalIndex}, but its first copy is at {(first == 0 ? "no index" : first.ToString(CultureInfo.InvariantCulture))}"));
                }

                break;
        }
    }

    /// <summary>
    /// Each acknowledged append must be committed at its index as the first copy of its (client, sequence). One
    /// beyond the commit point the checker has seen yet waits (the leader can crash in the iteration that acknowledged
    /// it, for example inside the checkpoint write that followed, before the checker looked at its commit index); at
    /// the end of the run none may still wait.
    /// </summary>
    private void CheckAcks(bool final = false)
    {
        var waiting = 0;
        for (var i = 0; i < _acks.Count; i++)
        {
            var ack = _acks[i];
            var (nodeId, client, sequence, index, streamSequence) = ack;
            if (index != 0 && index > (ulong)_committed.Count && !final)
            {
                _acks[waiting++] = ack;
                continue;
            }

            if (index == 0 || index > (ulong)_committed.Count)
            {
                sim.Fail("acknowledged-append", string.Create(CultureInfo.InvariantCulture,
                    $"n{nodeId} acknowledged append ({client}, {sequence}) at index {index}, beyond every commit point seen ({_committed.Count})"));
                return;
            }

            if (!_firstOccurrence.TryGetValue((client, sequence), out var first) || first != index)
            {
                sim.Fail("acknowledged-append", string.Create(CultureInfo.InvariantCulture,
                    $"n{nodeId} acknowledged append ({client}, {sequence}) at index {index}, but the committed log holds its first copy at {(first == 0 ? "no index" : first.ToString(CultureInfo.InvariantCulture))}"));
                return;
            }

            if (streamSequence != ulong.MaxValue && _modelStreamSequence.GetValueOrDefault(index) != streamSequence)
            {
                sim.Fail("stream-sequence", string.Create(CultureInfo.InvariantCulture,
                    $"n{nodeId} told the client of ({client}, {sequence}) at index {index} stream sequence {streamSequence}, but the committed log numbers it {_modelStreamSequence.GetValueOrDefault(index)}"));
                return;
            }
        }

        _acks.RemoveRange(waiting, _acks.Count - waiting);
        foreach (var (nodeId, applied, entries) in _staleReads)
        {
            foreach (var entry in entries)
            {
                if (entry.Index > applied || entry.Index > (ulong)_committed.Count || _committed[(int)entry.Index - 1].Term != entry.Term ||
                    _model.IsDuplicate(entry.Index) ||
                    !LogStateMachine.TryDecodeAppend(_entries[(entry.Index, entry.Term)].Payload, out var stream, out var data) ||
                    stream != entry.Stream || !data.Span.SequenceEqual(entry.Data.Span) || _modelStreamSequence.GetValueOrDefault(entry.Index) != entry.StreamSequence)
                {
                    sim.Fail("stale-read", string.Create(CultureInfo.InvariantCulture,
                        $"n{nodeId} served entry {entry.Index} (term {entry.Term}, stream sequence {entry.StreamSequence}) as a committed append, but it is not the committed entry, or a duplicate copy, or above its applied index {applied}, or the committed log numbers it {_modelStreamSequence.GetValueOrDefault(entry.Index)} in its stream"));
                    return;
                }
            }
        }

        _staleReads.Clear();
    }

    private ulong MaxTerm()
    {
        ulong max = 0;
        foreach (var node in sim.Nodes)
        {
            if (node.Up)
            {
                max = Math.Max(max, node.Process!.Status.Term);
            }
        }

        return max;
    }

    private readonly record struct Committed(ulong Term, ulong KnownBeforeTerm);

    private sealed record Known(EntryType Type, ulong PreviousTerm, byte[] Payload);
}
