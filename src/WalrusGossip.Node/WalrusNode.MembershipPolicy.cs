using System.Globalization;
using Microsoft.Extensions.Logging;
using WalrusGossip.Membership;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

/// <summary>
/// Operating the membership: autopilot on the leader (learners added, voters kept at
/// <see cref="NodeOptions.TargetVoters"/>, dead servers replaced after <see cref="NodeOptions.DeadServerGrace"/>), operator
/// changes (<see cref="ChangeMembership"/>), and what a node does once told it was removed. Every change is one
/// single-server Raft change (dissertation §4.1); the core refuses a second while one is uncommitted.
/// </summary>
public sealed partial class WalrusNode
{
    /// <summary>How long autopilot leaves a learner demoted by an operator alone before it may promote it again.</summary>
    private static readonly TimeSpan DemotionHold = TimeSpan.FromMinutes(10);

    private readonly Dictionary<ulong, TimeSpan> _deadSince = [];
    private readonly Dictionary<ulong, TimeSpan> _demotedAt = [];
    private readonly HashSet<ulong> _operatorRemoved = [];
    private readonly HashSet<ulong> _uncertifiedSeen = [];
    private bool _bugUncertifiedLearner;
    private readonly List<PendingMemberChange> _pendingMemberChanges = [];

    /// <summary>
    /// True once an operator removed this node from the cluster and a leader told it so (<see cref="RaftMessageType.Removed"/>),
    /// now or before a restart (the marker <c>raft/removed</c> persists it). A removed node neither campaigns nor votes,
    /// drops Raft traffic and announces <see cref="MetadataKeys.RaftRemoved"/> in gossip; wipe its data directory to rejoin.
    /// </summary>
    public bool IsRemoved { get; private set; }

    /// <summary>Voters autopilot removed after SWIM held them dead for the grace period (this node as leader).</summary>
    public long AutopilotVoterRemovals { get; private set; }

    /// <summary>Learners autopilot removed after SWIM held them dead for the grace period.</summary>
    public long AutopilotLearnerRemovals { get; private set; }

    /// <summary>Learners autopilot promoted to voter.</summary>
    public long AutopilotPromotions { get; private set; }

    /// <summary>Agents autopilot added as learners.</summary>
    public long AutopilotLearnersAdded { get; private set; }

    /// <summary>
    /// Gossip members autopilot did not add as learners because they have not proven a node certificate naming their id
    /// (<see cref="INodeTransport.IsPeerCertified"/>): counted once per member and leadership.
    /// </summary>
    public long AutopilotUncertifiedSkipped { get; private set; }

    /// <summary>Operator membership changes (<see cref="ChangeMembership"/>) that committed.</summary>
    public long OperatorMemberChanges { get; private set; }

    /// <summary>
    /// Proposes an operator's membership change — promote a learner (<see cref="ConfigChangeType.AddVoter"/>), demote a
    /// voter (<see cref="ConfigChangeType.Demote"/>), or remove a member (<see cref="ConfigChangeType.Remove"/>) — and
    /// answers once the configuration entry is applied (committed), with the resulting configuration. A member removed
    /// this way is told so (<see cref="RaftMessageType.Removed"/>) and stops voting; a demoted one is not promoted again
    /// by autopilot for 10 minutes.
    /// </summary>
    /// <param name="change">The change; node id non-zero.</param>
    /// <param name="done">
    /// Called on the node loop with <see cref="RequestStatus.Ok"/> and the entry's index once applied;
    /// <see cref="RequestStatus.NotLeader"/> (leader id given) on a follower; <see cref="RequestStatus.InvalidArgument"/>
    /// when the change does not apply to the current configuration (unknown member, promoting a voter, removing the last
    /// voter); <see cref="RequestStatus.Retry"/> while another change is in flight or this leader has not yet committed
    /// an entry of its term, or when the entry was lost to a leader change.
    /// </param>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public void ChangeMembership(ConfigChange change, Action<MemberChangeResult> done)
    {
        ArgumentNullException.ThrowIfNull(done);
        var raft = Raft;
        var status = raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            done(new MemberChangeResult(RequestStatus.NotLeader, 0, status.Leader, "send the request to the leader", status.Config));
            return;
        }

        if (status.Config.TryApply(change) is null)
        {
            done(new MemberChangeResult(RequestStatus.InvalidArgument, 0, Id, DescribeRefusal(change, status.Config), status.Config));
            return;
        }

        var result = raft.ProposeConfigChange(change);
        if (result.Status != ProposalStatus.Accepted)
        {
            done(new MemberChangeResult(RequestStatus.Retry, 0, Id, $"a membership change is already in flight or the leader has not committed in its term yet ({result.Status}); retry", status.Config));
            return;
        }

        _pendingMemberChanges.Add(new PendingMemberChange(result.Index, result.Term, change, done));
        LogMemberChangeProposed(_logger, change.Type, change.NodeId, result.Index);
        ProcessReady();
    }

    /// <summary>On the leader, each other member's match index (highest index known replicated on it); empty elsewhere.</summary>
    /// <returns>Node id to match index.</returns>
    /// <exception cref="InvalidOperationException">The node is not started.</exception>
    public IReadOnlyDictionary<ulong, ulong> GetReplicationProgress()
    {
        var progress = new Dictionary<ulong, ulong>();
        var status = Raft.Status;
        if (status.Role == RaftRole.Leader)
        {
            foreach (var id in status.Config.Voters.Concat(status.Config.Learners))
            {
                if (id != Id && Raft.TryGetMatchIndex(id, out var match))
                {
                    progress[id] = match;
                }
            }
        }

        return progress;
    }

    private static string DescribeRefusal(ConfigChange change, ClusterConfig config) => change.Type switch
    {
        _ when change.NodeId == 0 => "node id 0 is not a member",
        ConfigChangeType.AddVoter when config.IsVoter(change.NodeId) => $"{change.NodeId} is already a voter",
        ConfigChangeType.AddVoter => $"{change.NodeId} is not a learner of the cluster (agents join as learners through gossip)",
        ConfigChangeType.Demote when config.IsLearner(change.NodeId) => $"{change.NodeId} is already a learner",
        ConfigChangeType.Demote or ConfigChangeType.Remove when config.Voters.Count == 1 && config.IsVoter(change.NodeId) => $"{change.NodeId} is the last voter",
        _ when !config.Contains(change.NodeId) => $"{change.NodeId} is not a member ({config})",
        _ => $"{change.Type} {change.NodeId} does not apply to {config}",
    };

    /// <summary>After entries were applied: answers operator changes whose entry is applied, and tells a removed member.</summary>
    private void CompleteMemberChanges()
    {
        for (var i = _pendingMemberChanges.Count - 1; i >= 0; i--)
        {
            var pending = _pendingMemberChanges[i];
            if (pending.Index > _applied)
            {
                continue;
            }

            _pendingMemberChanges.RemoveAt(i);
            var config = Raft.Status.Config;
            if (!_raftLog!.TryGetTerm(pending.Index, out var term) || term != pending.Term)
            {
                pending.Done(new MemberChangeResult(RequestStatus.Retry, 0, Raft.Status.Leader, "the change was lost to a leader change; retry", config));
                continue;
            }

            OperatorMemberChanges++;
            LogMemberChangeCommitted(_logger, pending.Change.Type, pending.Change.NodeId, pending.Index, config.ToString());
            switch (pending.Change.Type)
            {
                case ConfigChangeType.Remove when pending.Change.NodeId == Id:
                    BecomeRemoved(Id, pending.Index);
                    break;
                case ConfigChangeType.Remove:
                    _operatorRemoved.Add(pending.Change.NodeId);
                    TellRemoved(pending.Change.NodeId, pending.Index);
                    break;
                case ConfigChangeType.Demote:
                    _demotedAt[pending.Change.NodeId] = _clock.Now;
                    break;
            }

            pending.Done(new MemberChangeResult(RequestStatus.Ok, pending.Index, Id, $"{pending.Change.Type} {pending.Change.NodeId} committed at index {pending.Index}", config));
        }
    }

    private void TellRemoved(ulong node, ulong configIndex) =>
        _transport.SendRaft(new RaftMessage { Type = RaftMessageType.Removed, From = Id, To = node, Term = Raft.Term, Index = configIndex });

    /// <summary>
    /// A <see cref="RaftMessageType.Removed"/> notice: trusted from a sender whose term is at least this node's (a
    /// current leader; an older one cannot know better) and acted on once.
    /// </summary>
    private void ReceiveRemoved(RaftMessage message)
    {
        if (IsRemoved || message.Term < Raft.Term)
        {
            return;
        }

        BecomeRemoved(message.From, message.Index);
    }

    private void BecomeRemoved(ulong by, ulong configIndex)
    {
        Storage.SaveRemoval(configIndex);
        IsRemoved = true;
        LogRemoved(_logger, by, configIndex);
        Membership.TryUpdateMetadata(_clock.Now, BuildMetadata());
    }

    /// <summary>
    /// Leader only, one change per call, in this order: remove a member SWIM has held dead for the grace period (a
    /// voter only while a majority of <see cref="NodeOptions.TargetVoters"/> voters remains); promote the most caught-up
    /// live learner while voters are fewer than the target; add a live agent the configuration lacks as a learner.
    /// </summary>
    private void ManageMembership(TimeSpan now)
    {
        var raft = Raft;
        var status = raft.Status;
        if (status.Role != RaftRole.Leader)
        {
            _deadSince.Clear();
            _uncertifiedSeen.Clear();
            return;
        }

        var config = status.Config;
        var members = Membership.GetSnapshot(now);
        var states = new Dictionary<ulong, MemberSnapshot>();
        foreach (var member in members)
        {
            if (ulong.TryParse(member.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id != 0)
            {
                states[id] = member;
            }
        }

        if (TryRemoveDeadServer(now, config, states) || TryPromoteLearner(now, status, config, states))
        {
            ProcessReady();
            return;
        }

        foreach (var (id, member) in states)
        {
            if (member.State is not (MemberState.Alive or MemberState.Suspect) || config.Contains(id) || _operatorRemoved.Contains(id) ||
                member.Metadata.ContainsKey(MetadataKeys.RaftRemoved))
            {
                continue;
            }

            // An uncertified member is counted while gossip still holds it alive or suspect: a host that holds the
            // gossip key but no certificate, and answers no probe, is alive only until its first probe fails (about one
            // protocol period), often between two of these checks; suspect, it stays at least the suspicion minimum.
            if (!_bugUncertifiedLearner && !_transport.IsPeerCertified(id))
            {
                if (_uncertifiedSeen.Add(id))
                {
                    AutopilotUncertifiedSkipped++;
                    LogAutopilot(_logger, "did not add learner", id, "gossip found it alive but it has not proven a node certificate naming it");
                }

                continue;
            }

            if (member.State != MemberState.Alive)
            {
                continue; // only a live member is added
            }

            if (raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, id)).Status == ProposalStatus.Accepted)
            {
                AutopilotLearnersAdded++;
                LogAutopilot(_logger, "added learner", id, "gossip found it alive");
                ProcessReady();
                return;
            }
        }
    }

    private bool TryRemoveDeadServer(TimeSpan now, ClusterConfig config, Dictionary<ulong, MemberSnapshot> states)
    {
        var grace = _options.DeadServerGrace;
        foreach (var id in config.Voters.Concat(config.Learners))
        {
            // Dead since: the first time this leader saw the member dead, backdated by how long SWIM has held it so.
            if (id != Id && states.TryGetValue(id, out var m) && m.State is MemberState.Dead or MemberState.Left)
            {
                if (!_deadSince.ContainsKey(id))
                {
                    _deadSince[id] = now - m.LastUpdateAge;
                }
            }
            else
            {
                _deadSince.Remove(id);
            }
        }

        if (grace <= TimeSpan.Zero)
        {
            return false;
        }

        var majorityOfTarget = (Math.Max(1, _options.TargetVoters) / 2) + 1;
        foreach (var (id, since) in _deadSince.OrderBy(p => p.Value))
        {
            if (now - since < grace || !config.Contains(id))
            {
                continue;
            }

            var isVoter = config.IsVoter(id);
            if (isVoter && config.Voters.Count - 1 < majorityOfTarget)
            {
                continue; // never below a majority of the configured voters: wait for a learner to be promoted first
            }

            if (Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.Remove, id)).Status != ProposalStatus.Accepted)
            {
                return false;
            }

            if (isVoter)
            {
                AutopilotVoterRemovals++;
            }
            else
            {
                AutopilotLearnerRemovals++;
            }

            LogAutopilot(_logger, isVoter ? "removed dead voter" : "removed dead learner", id,
                string.Create(CultureInfo.InvariantCulture, $"SWIM has held it dead for {(now - since).TotalSeconds:F0} s (grace {grace.TotalSeconds:F0} s)"));
            _deadSince.Remove(id);
            return true;
        }

        return false;
    }

    private bool TryPromoteLearner(TimeSpan now, RaftStatus status, ClusterConfig config, Dictionary<ulong, MemberSnapshot> states)
    {
        if (config.Voters.Count >= _options.TargetVoters)
        {
            return false;
        }

        ulong best = 0;
        ulong bestMatch = 0;
        foreach (var learner in config.Learners)
        {
            var held = _demotedAt.TryGetValue(learner, out var at) && now - at < DemotionHold;
            if (!held && states.TryGetValue(learner, out var m) && m.State == MemberState.Alive &&
                Raft.TryGetMatchIndex(learner, out var match) && match >= status.Commit && (best == 0 || match > bestMatch))
            {
                best = learner;
                bestMatch = match;
            }
        }

        if (best == 0 || Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddVoter, best)).Status != ProposalStatus.Accepted)
        {
            return false;
        }

        AutopilotPromotions++;
        LogAutopilot(_logger, "promoted learner", best,
            string.Create(CultureInfo.InvariantCulture, $"voters {config.Voters.Count} < target {_options.TargetVoters}, caught up at {bestMatch}"));
        return true;
    }

    private sealed record PendingMemberChange(ulong Index, ulong Term, ConfigChange Change, Action<MemberChangeResult> Done);

    [LoggerMessage(EventId = 80, Level = LogLevel.Information, Message = "membership: operator change {Type} {NodeId} proposed at index {Index}")]
    private static partial void LogMemberChangeProposed(ILogger logger, ConfigChangeType type, ulong nodeId, ulong index);

    [LoggerMessage(EventId = 81, Level = LogLevel.Information, Message = "membership: operator change {Type} {NodeId} committed at index {Index}; configuration now {Config}")]
    private static partial void LogMemberChangeCommitted(ILogger logger, ConfigChangeType type, ulong nodeId, ulong index, string config);

    [LoggerMessage(EventId = 82, Level = LogLevel.Warning, Message = "autopilot: {Action} {NodeId}: {Why}")]
    private static partial void LogAutopilot(ILogger logger, string action, ulong nodeId, string why);

    [LoggerMessage(EventId = 83, Level = LogLevel.Warning, Message = "this node was removed from the cluster (told by {By}, configuration entry {Index}): it no longer campaigns or votes; stop it, or wipe its data directory to rejoin as a new member")]
    private static partial void LogRemoved(ILogger logger, ulong by, ulong index);
}
