using System.Globalization;
using WalrusGossip.Membership;
using WalrusGossip.Raft;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// The fault schedule. After a 12 s calm start, time alternates between chaos windows (10-20 s of random faults from the enabled families)
/// and heal windows (30 s: every partition healed, every node restarted and resumed, except sometimes one node kept
/// down on purpose). Each heal starts two liveness clocks: an append issued after the heal must be acknowledged
/// within <see cref="LivenessBound"/>, and by <see cref="MembershipBound"/> SWIM must show running nodes alive and the
/// node kept down dead. Virtual time 0 counts as a heal (the first election).
/// </summary>
internal sealed partial class ClusterSimulation
{
    private static readonly TimeSpan HealWindow = TimeSpan.FromSeconds(30);

    /// <summary>Calm start before the first chaos window: long enough to check the first election's liveness.</summary>
    private static readonly TimeSpan InitialCalm = TimeSpan.FromSeconds(12);

    private readonly Random _faults;

    /// <summary>
    /// Disk-full windows come from their own generator, derived from the seed alone, so seeds without them keep the
    /// fault stream (and trace) they had before this fault existed.
    /// </summary>
    private Random? _diskFull;
    private bool _chaos;
    private TimeSpan _healedAt;
    private bool _livenessMet;
    private long _phase;

    private void StartFaultSchedule()
    {
        BeginHeal(initial: true);
    }

    private void BeginHeal(bool initial)
    {
        if (_epilogue)
        {
            return;
        }

        _chaos = false;
        var phase = ++_phase;
        if (!initial)
        {
            HealNetwork();
            WipeRemovedNodes();
            foreach (var node in _nodes.Where(n => n.Disk.AvailableBytes != long.MaxValue))
            {
                node.Disk.AvailableBytes = long.MaxValue;
                Trace($"fault: n{node.Id} disk has space again");
            }

            var keepDown = _options.Faults.HasFlag(FaultKinds.Process) && _faults.Next(3) == 0
                ? _nodes[_faults.Next(_nodes.Count)]
                : null;
            if (keepDown is not null && !LeavesVoterMajority(keepDown))
            {
                // A voter of a 2-voter configuration (an operator demoted one just before): keeping it down is an outage
                // the configuration cannot survive by design, not a liveness failure to report (walrus-sim seeds 115, 142).
                Trace($"fault: n{keepDown.Id} not kept down: the voters left would not be a majority");
                keepDown = null;
            }
            else if (keepDown is not null && _nodes.FirstOrDefault(n => n != keepDown && (n.PendingFlip is not null || n.Process is { IsRepairing: true })) is { } damaged)
            {
                // A node with damaged records may need this one's copy to repair, and two damaged of three leave nobody
                // to lead: a second fault on top of the one kept down, beyond what the cluster tolerates (3-node seed 15).
                Trace($"fault: n{keepDown.Id} not kept down: n{damaged.Id} has damaged records to repair");
                keepDown = null;
            }
            foreach (var node in _nodes)
            {
                node.LongOutage = false;
                if (node == keepDown)
                {
                    if (node.Up)
                    {
                        CrashNode(node);
                    }

                    node.LongOutage = true;
                    if (node.PendingFlip is { } flip)
                    {
                        node.Disk.RestoreByte(flip.Path, flip.Offset, flip.Original);
                        node.PendingFlip = null;
                    }

                    Trace($"fault: n{node.Id} stays down through the heal window");
                    continue;
                }

                if (!node.Up)
                {
                    StartNode(node);
                }
                else if (node.Paused)
                {
                    Resume(node);
                }

                node.Disk.ArmCrashAfterOps(-1);
            }
        }

        _healedAt = Now;
        _livenessMet = false;
        After(LivenessBound, "check liveness", () =>
        {
            if (_phase == phase && !_livenessMet)
            {
                Fail("liveness", $"no append was acknowledged within {LivenessBound.TotalSeconds:0} s of the heal at {Seconds(_healedAt)} (leader elected and commit required)");
            }
        });
        After(MembershipBound, "check membership", () =>
        {
            if (_phase == phase)
            {
                CheckMembership();
            }
        });
        if (_options.Faults != FaultKinds.None)
        {
            After(initial ? InitialCalm : HealWindow, "chaos begins", BeginChaos);
        }
    }

    /// <summary>
    /// True when, with only <paramref name="candidate"/> down after the heal, a majority of the voters is up in every
    /// configuration the other nodes hold (each node's latest, committed or not: the cluster may be in either).
    /// </summary>
    private bool LeavesVoterMajority(SimNode candidate)
    {
        foreach (var node in _nodes)
        {
            if (node == candidate)
            {
                continue;
            }

            var voters = VotersOf(node.Process) ?? node.LastVoters; // a node down now starts at the heal with the configuration it had
            if (voters.Contains((ulong)candidate.Id) && voters.Count - 1 < (voters.Count / 2) + 1) // every other node starts at the heal
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Called when a client's append completes: satisfies the liveness clock if it was sent after the heal.</summary>
    /// <param name="sentAt">When the successful attempt was sent.</param>
    public void NoteAppendAfter(TimeSpan sentAt)
    {
        if (!_chaos && !_livenessMet && sentAt >= _healedAt)
        {
            _livenessMet = true;
            Stats.WorstFailoverMs = Math.Max(Stats.WorstFailoverMs, (Now - _healedAt).TotalMilliseconds);
        }
    }

    private void BeginChaos()
    {
        if (_epilogue)
        {
            return;
        }

        _chaos = true;
        var phase = ++_phase;
        foreach (var node in _nodes)
        {
            node.LongOutage = false;
        }

        if (_options.Faults.HasFlag(FaultKinds.Network))
        {
            double[] drops = [0, 0.01, 0.05, 0.2];
            double[] dups = [0, 0.02, 0.1];
            double[] spikes = [0, 0.05, 0.2];
            SetNetworkFaults(drops[_faults.Next(drops.Length)], dups[_faults.Next(dups.Length)], spikes[_faults.Next(spikes.Length)]);
        }

        var length = TimeSpan.FromMilliseconds(10_000 + _faults.Next(10_000));
        MaybeFillDisk();
        MaybeChangeMembership();
        MaybeChangeSecurity();
        MaybeGossipSecurityEvents();
        ScheduleFault(phase);
        After(length, "heal", () => BeginHeal(initial: false));
    }

    private void ScheduleFault(long phase)
    {
        After(TimeSpan.FromMilliseconds(200 + _faults.Next(1300)), "fault tick", () =>
        {
            if (_phase != phase)
            {
                return;
            }

            InjectFault();
            ScheduleFault(phase);
        });
    }

    private void InjectFault()
    {
        var families = new List<FaultKinds>();
        foreach (var f in new[] { FaultKinds.Network, FaultKinds.Process, FaultKinds.Disk })
        {
            if (_options.Faults.HasFlag(f))
            {
                families.Add(f);
            }
        }

        if (families.Count == 0)
        {
            return;
        }

        var family = families[_faults.Next(families.Count)];
        switch (family)
        {
            case FaultKinds.Network:
                NetworkFault();
                break;
            case FaultKinds.Process:
                ProcessFault();
                break;
            default:
                DiskFault();
                break;
        }
    }

    private void NetworkFault()
    {
        var n = _nodes.Count;
        var roll = _faults.Next(100);
        if (roll < 25)
        {
            HealPartitionsOnly();
            Trace("fault: partitions healed");
            return;
        }

        Stats.Partitions++;
        if (roll < 50)
        {
            // Random split (majority/minority or an even-ish cut).
            var side = new bool[n + 1];
            var size = 1 + _faults.Next(n - 1);
            foreach (var id in Enumerable.Range(1, n).OrderBy(_ => _faults.Next()).Take(size))
            {
                side[id] = true;
            }

            for (var a = 1; a <= n; a++)
            {
                for (var b = 1; b <= n; b++)
                {
                    SetBlocked(a, b, side[a] != side[b]);
                }
            }

            Trace($"fault: partition {{{string.Join(',', Enumerable.Range(1, n).Where(i => side[i]))}}} | rest");
        }
        else if (roll < 75)
        {
            var leader = CurrentLeader() ?? (1 + _faults.Next(n));
            for (var other = 1; other <= n; other++)
            {
                if (other != leader)
                {
                    SetBlocked(leader, other, true);
                    SetBlocked(other, leader, true);
                }
            }

            Trace($"fault: isolate leader n{leader}");
        }
        else
        {
            var from = 1 + _faults.Next(n);
            var to = OtherNodeOf(from);
            SetBlocked(from, to, true);
            if (_faults.Next(2) == 0)
            {
                var leader = CurrentLeader();
                if (leader is { } l && l != from)
                {
                    SetBlocked(l, from, true);
                }
            }

            Trace($"fault: one-way block n{from} -> n{to}");
        }
    }

    private void HealPartitionsOnly() => Array.Clear(_blocked);

    private void ProcessFault()
    {
        var roll = _faults.Next(100);
        var down = _nodes.Where(x => !x.Up).ToList();
        var up = _nodes.Where(x => x.Up).ToList();
        if (roll < 30 && down.Count > 0)
        {
            var node = down[_faults.Next(down.Count)];
            Trace($"fault: restart n{node.Id}");
            StartNode(node);
            return;
        }

        if (up.Count == 0)
        {
            return;
        }

        if (roll < 45)
        {
            var node = up[_faults.Next(up.Count)];
            if (!node.Paused)
            {
                node.Paused = true;
                Stats.Pauses++;
                var length = TimeSpan.FromMilliseconds(300 + _faults.Next(4000));
                Trace($"fault: pause n{node.Id} for {length.TotalMilliseconds:0} ms");
                After(length, $"resume n{node.Id}", () => Resume(node));
            }

            return;
        }

        if (roll < 52)
        {
            Trace("fault: power loss on every node");
            foreach (var node in up)
            {
                CrashNode(node);
            }

            After(TimeSpan.FromMilliseconds(200 + _faults.Next(2000)), "power restored", () =>
            {
                foreach (var node in _nodes)
                {
                    if (!node.Up && _chaos)
                    {
                        StartNode(node);
                    }
                }
            });
            return;
        }

        var victim = roll < 75 && CurrentLeader() is { } leader ? _nodes[leader - 1] : up[_faults.Next(up.Count)];
        if (_options.Faults.HasFlag(FaultKinds.Disk) && _faults.Next(2) == 0)
        {
            var ops = _faults.Next(40);
            victim.Disk.ArmCrashAfterOps(ops);
            Trace($"fault: n{victim.Id} will crash inside its device call {ops + 1} from now");
            return;
        }

        Trace($"fault: crash n{victim.Id}");
        CrashNode(victim);
    }

    /// <summary>
    /// On the seeds that also retain little (see <c>CheckpointEveryEntries</c>), one chaos window in three has a node
    /// whose disk reports no free space until the heal: below the reserve it must refuse new entries (as leader and as
    /// follower) without crashing, losing an acknowledged append or leaving the cluster, and resume when space returns.
    /// </summary>
    private void MaybeFillDisk()
    {
        if (!_options.Faults.HasFlag(FaultKinds.Disk) || CheckpointEveryEntries != 400)
        {
            return;
        }

        _diskFull ??= new Random(unchecked((int)((_options.Seed * 0x9E3779B1L) ^ 0x5EED_D15C)));
        if (_diskFull.Next(3) != 0)
        {
            return;
        }

        var node = _nodes[_diskFull.Next(_nodes.Count)];
        node.Disk.AvailableBytes = 0;
        Stats.DiskFullWindows++;
        Trace($"fault: n{node.Id} disk full");
    }

    private void DiskFault()
    {
        var candidates = _nodes.Where(x => x.PendingFlip is null && x.Disk.SealedSegments().Count > 0).ToList();
        if (candidates.Count == 0)
        {
            return;
        }

        var node = candidates[_faults.Next(candidates.Count)];
        if (node.Up)
        {
            CrashNode(node);
        }

        var segments = node.Disk.SealedSegments();
        var path = segments[_faults.Next(segments.Count)];
        var (offset, original) = node.Disk.FlipBit(path, _faults);
        node.PendingFlip = (path, offset, original);
        Stats.BitFlips++;
        Trace(string.Create(CultureInfo.InvariantCulture, $"fault: bit flip in n{node.Id} {path} at {offset}"));
        After(TimeSpan.FromMilliseconds(100 + _faults.Next(1000)), $"restart n{node.Id} after bit flip", () =>
        {
            if (!node.Up && !node.LongOutage)
            {
                StartNode(node);
            }
        });
    }

    private int? CurrentLeader()
    {
        ulong bestTerm = 0;
        int? leader = null;
        foreach (var node in _nodes)
        {
            if (node.Up && node.Process!.Status is { Role: RaftRole.Leader } s && s.Term >= bestTerm)
            {
                bestTerm = s.Term;
                leader = node.Id;
            }
        }

        return leader;
    }

    private int OtherNodeOf(int id)
    {
        var next = 1 + _faults.Next(_nodes.Count - 1);
        return next >= id ? next + 1 : next;
    }

    private string DescribeViews() => string.Join("; ", _nodes.Where(n => n.Up).Select(n =>
        $"n{n.Id}: " + string.Join(",", n.Process!.GetMembers().Select(m => $"{m.Name}={m.State}/{m.Incarnation}"))));

    private void CheckMembership()
    {
        foreach (var observer in _nodes)
        {
            if (!observer.Up || observer.Paused)
            {
                continue;
            }

            var view = observer.Process!.GetMembers().ToDictionary(m => m.Name, StringComparer.Ordinal);
            foreach (var other in _nodes)
            {
                if (other == observer)
                {
                    continue;
                }

                var name = other.Id.ToString(CultureInfo.InvariantCulture);
                view.TryGetValue(name, out var member);
                var found = member.Name is not null;
                if (other.Up && (!found || member.State != MemberState.Alive))
                {
                    Fail("swim-alive", $"n{observer.Id} sees running n{other.Id} as {(found ? member.State.ToString() : "unknown")} {MembershipBound.TotalSeconds:0} s after the heal (views: {DescribeViews()})");
                    return;
                }

                if (!other.Up && other.LongOutage && found && member.State is MemberState.Alive or MemberState.Suspect)
                {
                    Fail("swim-dead", $"n{observer.Id} still sees n{other.Id}, down since {Seconds(other.DownSince)}, as {member.State}");
                    return;
                }
            }
        }
    }
}
