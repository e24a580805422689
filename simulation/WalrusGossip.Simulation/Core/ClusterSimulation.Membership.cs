using System.Globalization;
using WalrusGossip.Node;
using WalrusGossip.Raft;
using WalrusGossip.Simulation.Disk;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// Membership changes under faults. Autopilot runs on every node as it ships (3 voters; further nodes learners; a
/// member SWIM holds dead for the grace period is removed and a caught-up learner promoted). On top of it, an operator
/// acts in about half of the chaos windows: it promotes a learner, demotes a voter or removes a member (sometimes
/// firing a second change right after the first, which must be refused while the first is in flight). A member an
/// operator removed is wiped at the next heal, as the runbook says, and rejoins through gossip as a new learner.
/// </summary>
internal sealed partial class ClusterSimulation
{
    /// <summary>Operator actions come from their own generator, derived from the seed alone, so the fault stream of every seed is unchanged.</summary>
    private Random? _operator;

    private void MaybeChangeMembership()
    {
        _operator ??= new Random(unchecked((int)((_options.Seed * 0x2545F491L) ^ 0x0BE7_A70B)));
        if (_operator.Next(2) != 0)
        {
            return;
        }

        var delay = TimeSpan.FromMilliseconds(500 + _operator.Next(8_000));
        var roll = _operator.Next(100);
        var second = _operator.Next(3) == 0;
        After(delay, "operator membership change", () => OperatorChange(roll, second));
    }

    /// <summary>Security changes come from their own generator as well, so the operator's membership stream is unchanged.</summary>
    private Random? _securityOperator;

    /// <summary>
    /// In about half of the chaos windows an administrator changes the replicated authorization state at the leader:
    /// a role, a token, or a grant, from small name sets so that later changes replace and delete earlier ones. The
    /// checker then holds every node to the policy of the committed log (<c>security-policy</c>).
    /// </summary>
    private void MaybeChangeSecurity()
    {
        var random = _securityOperator ??= new Random(unchecked((int)((_options.Seed * 0x27BB2EE7L) ^ 0x5EC0_A17E)));
        if (random.Next(2) != 0)
        {
            return;
        }

        var roll = random.Next(6);
        var name = "n" + random.Next(3).ToString(CultureInfo.InvariantCulture);
        var role = "r" + random.Next(3).ToString(CultureInfo.InvariantCulture);
        var change = roll switch
        {
            0 => new SecurityChange(SecurityChangeKind.PutRole, role, (Permission)(1 + random.Next(15)), random.Next(2) == 0 ? "" : "s"),
            1 => new SecurityChange(SecurityChangeKind.DeleteRole, role),
            2 => new SecurityChange(SecurityChangeKind.PutToken, name, SecretHash: SecurityPolicy.HashSecret(name + random.Next()), Roles: [role]),
            3 => new SecurityChange(SecurityChangeKind.DeleteToken, name),
            4 => new SecurityChange(SecurityChangeKind.Grant, name, Roles: [role]),
            _ => new SecurityChange(SecurityChangeKind.Revoke, name, Roles: [role]),
        };
        After(TimeSpan.FromMilliseconds(500 + random.Next(8_000)), "operator security change", () => ProposeSecurity(change, attempts: 20));
    }

    /// <summary>Proposes <paramref name="change"/> at the leader, or tries again in 500 ms while there is none (at most <paramref name="attempts"/> times).</summary>
    private void ProposeSecurity(SecurityChange change, int attempts)
    {
        if (_epilogue)
        {
            return;
        }

        if (CurrentLeader() is not { } id || _nodes[id - 1] is not { Up: true, Paused: false, Process: { } leader } node || leader.Status.Role != RaftRole.Leader)
        {
            if (attempts > 1)
            {
                After(TimeSpan.FromMilliseconds(500), "operator security change (retry)", () => ProposeSecurity(change, attempts - 1));
            }

            return;
        }

        Trace(string.Create(CultureInfo.InvariantCulture, $"operator: security {change.Kind} {change.Name} at leader n{node.Id}"));
        // Through the loop, as the agent's ClientService does: the proposal's write may hit a simulated crash, which only
        // a loop iteration handles (a direct call let it escape the run).
        node.Loop!.Post(n => n.ChangeSecurity(change, r =>
        {
            Trace(string.Create(CultureInfo.InvariantCulture, $"operator: security {change.Kind} {change.Name}: {r.Status} {r.Message}"));
            if (r.Status == RequestStatus.Ok)
            {
                Stats.SecurityChanges++;
            }
        }));
        ScheduleRun(node, Now);
    }

    private void OperatorChange(int roll, bool second)
    {
        if (_epilogue)
        {
            return;
        }

        if (CurrentLeader() is not { } id || _nodes[id - 1] is not { Up: true, Paused: false, Process: { } leader } node || leader.Status.Role != RaftRole.Leader)
        {
            return;
        }

        var status = leader.Status;
        var change = PickChange(status, roll);
        if (change is null)
        {
            return;
        }

        Propose(node, leader, change.Value);
        if (second && PickChange(status, (roll + 50) % 100) is { } another && another.NodeId != change.Value.NodeId)
        {
            Propose(node, leader, another); // refused (Retry) unless the first already committed: never two in flight
        }

        ScheduleRun(node, Now);
    }

    /// <summary>Below 40: promote a learner; below 75: demote a voter other than the leader (with more than 3 members); else remove a member other than the leader (likewise).</summary>
    private ConfigChange? PickChange(NodeStatus status, int roll)
    {
        var others = status.Voters.Where(v => v != status.NodeId).ToList();
        if (roll < 40 && status.Learners.Count > 0)
        {
            return new ConfigChange(ConfigChangeType.AddVoter, status.Learners[_operator!.Next(status.Learners.Count)]);
        }

        // Demote only where a learner is left to take the voter's place: a 3-member cluster demoted to 2 voters, one of
        // them kept down through a heal, has no quorum (and autopilot holds the demoted one back for 10 minutes): an outage
        // the operator asked for, not one to report (seed 12 of a 3-node sweep).
        if (roll < 75 && others.Count > 0 && status.Voters.Count > 1 && status.Voters.Count + status.Learners.Count > 3)
        {
            return new ConfigChange(ConfigChangeType.Demote, others[_operator!.Next(others.Count)]);
        }

        var members = others.Concat(status.Learners).ToList();
        return members.Count > 0 && status.Voters.Count + status.Learners.Count > 3
            ? new ConfigChange(ConfigChangeType.Remove, members[_operator!.Next(members.Count)])
            : null;
    }

    private void Propose(SimNode node, WalrusNode leader, ConfigChange change)
    {
        Trace(string.Create(CultureInfo.InvariantCulture, $"operator: {change.Type} n{change.NodeId} at leader n{node.Id}"));
        try
        {
            ChangeMembership(leader, change);
        }
        catch (SimulatedCrashException)
        {
            // The change is proposed outside the node loop, and its Ready writes the log at once: a disk fault armed for
            // that write crashes the process here, as it would inside RunLoop (the 200-seed sweep hit this).
            Trace($"n{node.Id} crashed inside a device call");
            MarkDown(node);
        }
    }

    private void ChangeMembership(WalrusNode leader, ConfigChange change)
    {
        leader.ChangeMembership(change, r =>
        {
            Trace(string.Create(CultureInfo.InvariantCulture, $"operator: {change.Type} n{change.NodeId}: {r.Status} {r.Message}"));
            if (r.Status == RequestStatus.Ok)
            {
                Stats.OperatorMemberChanges++;
            }
            else
            {
                Stats.OperatorMemberChangesRefused++;
            }
        });
    }

    /// <summary>Heal: every node an operator removed is wiped (its data directory deleted) and started again, to rejoin as a new learner.</summary>
    private void WipeRemovedNodes()
    {
        foreach (var node in _nodes)
        {
            if (node.Process is not { IsRemoved: true })
            {
                continue;
            }

            CrashNode(node);
            node.Disk.ArmCrashAfterOps(-1);
            node.PendingFlip = null; // the flipped file is deleted with the rest
            var device = node.Disk.Attach();
            foreach (var directory in new[] { "/data/log", "/data/checkpoints", "/data/raft", "/data" })
            {
                try
                {
                    foreach (var name in device.ListFiles(directory))
                    {
                        device.DeleteFile(directory + "/" + name);
                    }

                    device.SyncDirectory(directory);
                }
                catch (DirectoryNotFoundException)
                {
                }
            }

            Stats.RemovedNodesWiped++;
            Trace($"operator: wiped removed n{node.Id}; it rejoins as a new member");
        }
    }
}
