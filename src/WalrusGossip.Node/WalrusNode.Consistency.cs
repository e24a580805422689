using System.Buffers.Binary;
using System.Globalization;
using System.IO.Hashing;
using Microsoft.Extensions.Logging;
using WalrusGossip.Raft;
using WalrusGossip.Storage;

namespace WalrusGossip.Node;

/// <summary>What one peer's comparison in a consistency round found.</summary>
public enum ConsistencyOutcome
{
    /// <summary>The peer's hash of the range equals the leader's.</summary>
    Match,

    /// <summary>The peer holds different committed entries in the range than the leader: one of the two replicas is corrupt.</summary>
    Mismatch,

    /// <summary>No comparison was possible: the peer has not replicated the range yet, or one side compacted it or holds it damaged.</summary>
    Unavailable,

    /// <summary>The peer did not answer within <see cref="WalrusNode.ConsistencyCheckTimeout"/>.</summary>
    NoAnswer,
}

/// <summary>One peer's line in a <see cref="ConsistencyReport"/>.</summary>
/// <param name="PeerId">The peer's node id.</param>
/// <param name="Outcome">What the comparison found.</param>
/// <param name="FirstIndex">First index compared (0 when nothing was).</param>
/// <param name="LastIndex">Last index compared, inclusive (0 when nothing was).</param>
/// <param name="LeaderHash">The leader's XxHash3 (64-bit) of the range; 0 when not computed.</param>
/// <param name="PeerHash">The peer's XxHash3 (64-bit) of the range; 0 when not received.</param>
/// <param name="Detail">Human-readable reason, for <see cref="ConsistencyOutcome.Unavailable"/> in particular.</param>
public sealed record ConsistencyPeerResult(ulong PeerId, ConsistencyOutcome Outcome, ulong FirstIndex, ulong LastIndex, ulong LeaderHash, ulong PeerHash, string Detail);

/// <summary>The result of one consistency round (see <see cref="WalrusNode.CheckConsistency"/>).</summary>
/// <param name="CheckId">The round's id, unique per leader process.</param>
/// <param name="LeaderId">The leader that ran it.</param>
/// <param name="OnDemand">True when an operator asked for it, false for a periodic round.</param>
/// <param name="FirstIndex">First committed index the round asked for.</param>
/// <param name="LastIndex">Last committed index the round asked for (inclusive); below <paramref name="FirstIndex"/> when nothing was committed and retained.</param>
/// <param name="Peers">One line per other member of the configuration, ascending by id.</param>
public sealed record ConsistencyReport(ulong CheckId, ulong LeaderId, bool OnDemand, ulong FirstIndex, ulong LastIndex, IReadOnlyList<ConsistencyPeerResult> Peers)
{
    /// <summary>True when at least one peer's hash differed from the leader's.</summary>
    public bool HasMismatch => Peers.Any(p => p.Outcome == ConsistencyOutcome.Mismatch);
}

/// <summary>Outcome of <see cref="WalrusNode.CheckConsistency"/>.</summary>
/// <param name="Status"><see cref="RequestStatus.Ok"/> with a report; <see cref="RequestStatus.NotLeader"/> on a follower; <see cref="RequestStatus.InvalidArgument"/> for a bad range.</param>
/// <param name="LeaderId">The leader, when known.</param>
/// <param name="Message">Human-readable detail.</param>
/// <param name="Report">The round's report when <see cref="RequestStatus.Ok"/>.</param>
public sealed record ConsistencyCheckResult(RequestStatus Status, ulong LeaderId, string Message, ConsistencyReport? Report);

/// <summary>
/// The replica consistency check (after etcd's corruption check, on log ranges rather than a key-value store): the
/// leader asks each peer for the XxHash3 (System.IO.Hashing, 64-bit) of committed entries, computes its own over the
/// same range and compares. CRC-32C on every record catches damage at rest; this catches replicas that wrote different
/// bytes with a valid checksum (a software bug, a misdirected write, memory corruption before the checksum was taken).
/// Each entry contributes its index, term, type, payload length and payload; both sides hash only entries at or below
/// the leader's commit index and the peer's match index, which Raft's Log Matching property makes identical on correct
/// replicas. A mismatch is logged (event 70), counted and kept in <see cref="LastConsistencyMismatch"/>; nothing is
/// rewritten automatically, since two replicas alone cannot tell which is wrong (the operator compares the others,
/// then wipes the bad one, which rejoins as a learner).
/// </summary>
public sealed partial class WalrusNode
{
    /// <summary>Most entries one round may hash (an on-demand range larger than this is refused).</summary>
    public const int MaxConsistencyCheckEntries = 65_536;

    /// <summary>How long a round waits for peers' answers before it reports the missing ones as <see cref="ConsistencyOutcome.NoAnswer"/>.</summary>
    public static readonly TimeSpan ConsistencyCheckTimeout = TimeSpan.FromSeconds(5);

    private const int HashReadChunk = 256;
    private const long HashReadBytes = 4 << 20;

    private readonly Dictionary<ulong, PendingConsistencyCheck> _consistencyChecks = [];
    private ulong _lastConsistencyCheckId;
    private ulong _consistencyCursor;
    private TimeSpan _nextConsistencyCheck;

    /// <summary>Consistency rounds completed since start (as leader).</summary>
    public long ConsistencyChecks { get; private set; }

    /// <summary>Peer ranges compared since start (each <see cref="ConsistencyOutcome.Match"/> or <see cref="ConsistencyOutcome.Mismatch"/>).</summary>
    public long ConsistencyRangesCompared { get; private set; }

    /// <summary>Peer ranges whose hash differed from this leader's since start.</summary>
    public long ConsistencyMismatches { get; private set; }

    /// <summary>The last completed round, or null before the first.</summary>
    public ConsistencyReport? LastConsistencyReport { get; private set; }

    /// <summary>The last mismatching comparison since start, or null when there was none.</summary>
    public ConsistencyPeerResult? LastConsistencyMismatch { get; private set; }

    /// <summary>
    /// Runs a consistency round now. On the leader, asks every other member of the configuration for the hash of
    /// committed entries [<paramref name="firstIndex"/>, <paramref name="lastIndex"/>] (clipped to the retained,
    /// committed log and, per peer, to its match index) and calls <paramref name="done"/> once every peer answered or
    /// <see cref="ConsistencyCheckTimeout"/> passed. With both bounds 0 the range is the last
    /// <see cref="NodeOptions.ConsistencyCheckEntries"/> committed entries. Called on the node loop.
    /// </summary>
    /// <param name="firstIndex">First index, or 0 with <paramref name="lastIndex"/> 0 for the default range.</param>
    /// <param name="lastIndex">Last index (inclusive), at most <see cref="MaxConsistencyCheckEntries"/> - 1 above <paramref name="firstIndex"/>.</param>
    /// <param name="done">Receives the result, on the node loop; at once for a refusal.</param>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public void CheckConsistency(ulong firstIndex, ulong lastIndex, Action<ConsistencyCheckResult> done)
    {
        ArgumentNullException.ThrowIfNull(done);
        var status = Raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            done(new ConsistencyCheckResult(RequestStatus.NotLeader, status.Leader, "send the request to the leader", null));
            return;
        }

        if ((firstIndex == 0) != (lastIndex == 0) || lastIndex < firstIndex || lastIndex - firstIndex >= MaxConsistencyCheckEntries)
        {
            done(new ConsistencyCheckResult(RequestStatus.InvalidArgument, Id, string.Create(CultureInfo.InvariantCulture,
                $"the range {firstIndex}..{lastIndex} is not valid: give both bounds (first <= last, at most {MaxConsistencyCheckEntries} entries) or neither"), null));
            return;
        }

        var retained = Math.Max(1, Storage.Log.FirstIndex);
        ulong from, to;
        if (firstIndex == 0)
        {
            to = status.Commit;
            from = to >= (ulong)_options.ConsistencyCheckEntries ? Math.Max(retained, to - (ulong)_options.ConsistencyCheckEntries + 1) : retained;
        }
        else
        {
            from = Math.Max(firstIndex, retained);
            to = Math.Min(lastIndex, status.Commit);
        }

        StartConsistencyRound(_clock.Now, from, to, onDemand: true, done);
    }

    /// <summary>On the leader, every <see cref="NodeOptions.ConsistencyCheckInterval"/>: a round over the next window of committed entries.</summary>
    private void CheckConsistencyIfDue(TimeSpan now)
    {
        ExpireConsistencyRounds(now);
        if (_options.ConsistencyCheckInterval <= TimeSpan.Zero || now < _nextConsistencyCheck)
        {
            return;
        }

        _nextConsistencyCheck = now + _options.ConsistencyCheckInterval;
        var status = Raft.Status;
        if (status.Role != RaftRole.Leader || IsRemoved || _consistencyChecks.Values.Any(c => !c.OnDemand))
        {
            return;
        }

        var retained = Math.Max(1, Storage.Log.FirstIndex);
        var from = _consistencyCursor < retained || _consistencyCursor > status.Commit ? retained : _consistencyCursor;
        var to = Math.Min(status.Commit, from + (ulong)Math.Max(1, _options.ConsistencyCheckEntries) - 1);
        if (to < from)
        {
            return; // nothing committed and retained yet
        }

        _consistencyCursor = to + 1;
        StartConsistencyRound(now, from, to, onDemand: false, done: null);
    }

    private void StartConsistencyRound(TimeSpan now, ulong from, ulong to, bool onDemand, Action<ConsistencyCheckResult>? done)
    {
        var status = Raft.Status;
        var round = new PendingConsistencyCheck(++_lastConsistencyCheckId, onDemand, from, to, now + ConsistencyCheckTimeout, done);
        var progress = GetReplicationProgress();
        foreach (var peer in status.Config.Voters.Concat(status.Config.Learners).Where(p => p != Id).Distinct().Order())
        {
            var match = progress.GetValueOrDefault(peer);
            var peerTo = Math.Min(to, match);
            if (to < from || peerTo < from)
            {
                round.Results[peer] = new ConsistencyPeerResult(peer, ConsistencyOutcome.Unavailable, 0, 0, 0, 0, to < from
                    ? "no committed entry is retained in the range"
                    : string.Create(CultureInfo.InvariantCulture, $"the peer has not replicated index {from} yet (match index {match})"));
                continue;
            }

            round.Outstanding[peer] = peerTo;
            var context = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(context, round.Id);
            _transport.SendRaft(new RaftMessage
            {
                Type = RaftMessageType.HashRequest,
                From = Id,
                To = peer,
                Term = status.Term,
                Index = from,
                Commit = peerTo,
                Context = context,
            });
        }

        _consistencyChecks[round.Id] = round;
        if (round.Outstanding.Count == 0)
        {
            CompleteConsistencyRound(round);
        }
    }

    /// <summary>Answers a leader's hash request, or compares a peer's answer with this leader's own hash.</summary>
    private void ReceiveHash(RaftMessage m)
    {
        if (m.Type == RaftMessageType.HashRequest)
        {
            AnswerHashRequest(m);
            return;
        }

        if (m.Context.Length != 16)
        {
            return; // malformed: ignored like any other bad message
        }

        var id = BinaryPrimitives.ReadUInt64LittleEndian(m.Context.Span);
        if (!_consistencyChecks.TryGetValue(id, out var round) || !round.Outstanding.TryGetValue(m.From, out var askedTo))
        {
            return; // an answer to a round that timed out, or a duplicate
        }

        round.Outstanding.Remove(m.From);
        var peerHash = BinaryPrimitives.ReadUInt64LittleEndian(m.Context.Span[8..]);
        ConsistencyPeerResult result;
        if (m.Reject)
        {
            result = new ConsistencyPeerResult(m.From, ConsistencyOutcome.Unavailable, 0, 0, 0, 0,
                "the peer cannot hash the range (compacted, damaged or not yet durable there)");
        }
        else if (m.Index < round.FirstIndex || m.Commit > askedTo || m.Commit < m.Index)
        {
            result = new ConsistencyPeerResult(m.From, ConsistencyOutcome.Unavailable, 0, 0, 0, 0, string.Create(CultureInfo.InvariantCulture,
                $"the peer hashed {m.Index}..{m.Commit}, outside the range asked ({round.FirstIndex}..{askedTo})"));
        }
        else if (TryHashRange(m.Index, m.Commit, out var leaderHash, out var why))
        {
            var same = leaderHash == peerHash;
            result = new ConsistencyPeerResult(m.From, same ? ConsistencyOutcome.Match : ConsistencyOutcome.Mismatch, m.Index, m.Commit, leaderHash, peerHash,
                same ? "equal" : "the replicas hold different committed entries in this range");
            ConsistencyRangesCompared++;
            if (!same)
            {
                ConsistencyMismatches++;
                LastConsistencyMismatch = result;
                LogConsistencyMismatch(_logger, m.From, m.Index, m.Commit, peerHash, leaderHash);
            }
        }
        else
        {
            result = new ConsistencyPeerResult(m.From, ConsistencyOutcome.Unavailable, m.Index, m.Commit, 0, peerHash, "the leader cannot hash the range: " + why);
        }

        round.Results[m.From] = result;
        if (round.Outstanding.Count == 0)
        {
            CompleteConsistencyRound(round);
        }
    }

    private void AnswerHashRequest(RaftMessage m)
    {
        if (m.Context.Length != 8)
        {
            return;
        }

        var log = Storage.Log;
        var from = Math.Max(m.Index, Math.Max(1, log.FirstIndex));
        var to = Math.Min(m.Commit, log.LastIndex);
        ulong hash = 0;
        var ok = m.Index > 0 && to >= from && to - from < MaxConsistencyCheckEntries && TryHashRange(from, to, out hash, out _);
        var context = new byte[16];
        m.Context.Span.CopyTo(context);
        BinaryPrimitives.WriteUInt64LittleEndian(context.AsSpan(8), hash);
        _transport.SendRaft(new RaftMessage
        {
            Type = RaftMessageType.HashResponse,
            From = Id,
            To = m.From,
            Term = Raft.Status.Term,
            Index = ok ? from : 0,
            Commit = ok ? to : 0,
            Context = context,
            Reject = !ok,
        });
    }

    /// <summary>XxHash3 of the local entries [<paramref name="from"/>, <paramref name="to"/>]; false when one is not readable here.</summary>
    private bool TryHashRange(ulong from, ulong to, out ulong hash, out string why)
    {
        hash = 0;
        var log = Storage.Log;
        if (from < Math.Max(1, log.FirstIndex) || to > log.LastIndex)
        {
            why = string.Create(CultureInfo.InvariantCulture, $"it holds {log.FirstIndex}..{log.LastIndex}");
            return false;
        }

        var blind = _options.InjectedBugs.Contains("blind-consistency-hash");
        var hasher = new XxHash3();
        var entries = new List<LogEntry>(HashReadChunk);
        Span<byte> head = stackalloc byte[21];
        var next = from;
        try
        {
            while (next <= to)
            {
                entries.Clear();
                var want = (int)Math.Min((ulong)HashReadChunk, to - next + 1);
                if (log.ReadRange(next, want, HashReadBytes, entries) == 0)
                {
                    why = string.Create(CultureInfo.InvariantCulture, $"no entry readable at {next}");
                    return false;
                }

                foreach (var e in entries)
                {
                    if (e.Index != next)
                    {
                        why = string.Create(CultureInfo.InvariantCulture, $"read index {e.Index} where {next} was expected");
                        return false;
                    }

                    BinaryPrimitives.WriteUInt64LittleEndian(head, e.Index);
                    BinaryPrimitives.WriteUInt64LittleEndian(head[8..], e.Term);
                    head[16] = (byte)e.Type;
                    BinaryPrimitives.WriteInt32LittleEndian(head[17..], blind ? 0 : e.Payload.Length);
                    hasher.Append(head);
                    if (!blind)
                    {
                        hasher.Append(e.Payload.Span);
                    }

                    next++;
                }
            }
        }
        catch (Exception e) when (e is DamagedEntryException or LogCorruptionException or LogIndexOutOfRangeException or IOException)
        {
            why = e.Message;
            return false;
        }

        hash = hasher.GetCurrentHashAsUInt64();
        why = string.Empty;
        return true;
    }

    private void ExpireConsistencyRounds(TimeSpan now)
    {
        if (_consistencyChecks.Count == 0)
        {
            return;
        }

        foreach (var round in _consistencyChecks.Values.Where(r => now >= r.Deadline).ToList())
        {
            foreach (var (peer, _) in round.Outstanding)
            {
                round.Results[peer] = new ConsistencyPeerResult(peer, ConsistencyOutcome.NoAnswer, 0, 0, 0, 0,
                    string.Create(CultureInfo.InvariantCulture, $"no answer within {ConsistencyCheckTimeout.TotalSeconds:F0} s"));
            }

            round.Outstanding.Clear();
            CompleteConsistencyRound(round);
        }
    }

    private void CompleteConsistencyRound(PendingConsistencyCheck round)
    {
        _consistencyChecks.Remove(round.Id);
        ConsistencyChecks++;
        var report = new ConsistencyReport(round.Id, Id, round.OnDemand, round.FirstIndex, round.LastIndex, [.. round.Results.Values.OrderBy(r => r.PeerId)]);
        LastConsistencyReport = report;
        var compared = report.Peers.Count(p => p.Outcome is ConsistencyOutcome.Match or ConsistencyOutcome.Mismatch);
        LogConsistencyRound(_logger, round.Id, round.FirstIndex, round.LastIndex, compared, report.Peers.Count(p => p.Outcome == ConsistencyOutcome.Mismatch), report.Peers.Count);
        round.Done?.Invoke(new ConsistencyCheckResult(RequestStatus.Ok, Id, report.HasMismatch ? "replicas differ" : "no mismatch", report));
    }

    private sealed class PendingConsistencyCheck(ulong id, bool onDemand, ulong firstIndex, ulong lastIndex, TimeSpan deadline, Action<ConsistencyCheckResult>? done)
    {
        public ulong Id { get; } = id;

        public bool OnDemand { get; } = onDemand;

        public ulong FirstIndex { get; } = firstIndex;

        public ulong LastIndex { get; } = lastIndex;

        public TimeSpan Deadline { get; } = deadline;

        public Action<ConsistencyCheckResult>? Done { get; } = done;

        /// <summary>Peers still to answer, with the last index each was asked for.</summary>
        public Dictionary<ulong, ulong> Outstanding { get; } = [];

        public Dictionary<ulong, ConsistencyPeerResult> Results { get; } = [];
    }

    [LoggerMessage(EventId = 70, Level = LogLevel.Error, Message = "replica mismatch: node {Peer} hashes committed entries {First}..{Last} to {PeerHash:x16}, this leader to {LeaderHash:x16}; one of the two replicas is corrupt (compare with the others: walrusctl check consistency)")]
    private static partial void LogConsistencyMismatch(ILogger logger, ulong peer, ulong first, ulong last, ulong peerHash, ulong leaderHash);

    [LoggerMessage(EventId = 71, Level = LogLevel.Debug, Message = "consistency round {Id} over {First}..{Last}: {Compared} peers compared, {Mismatches} mismatched, of {Peers}")]
    private static partial void LogConsistencyRound(ILogger logger, ulong id, ulong first, ulong last, int compared, int mismatches, int peers);
}
