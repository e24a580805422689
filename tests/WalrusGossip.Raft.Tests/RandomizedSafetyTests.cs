using System.Text;
using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

/// <summary>
/// Seeded randomized runs over an in-test network that drops, duplicates, delays and reorders messages,
/// partitions nodes, restarts them from persisted state, compacts logs and changes membership; safety is
/// checked after every step, liveness once the network heals. A failing seed replays exactly.
/// </summary>
public sealed class RandomizedSafetyTests
{
    private const int Steps = 800;

    public static TheoryData<int, int, int> Batches()
    {
        var data = new TheoryData<int, int, int>();
        for (var batch = 0; batch < 6; batch++)
        {
            data.Add(3, batch * 50, 50);
        }

        for (var batch = 0; batch < 4; batch++)
        {
            data.Add(5, batch * 50, 50);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Batches))]
    public void Safety_holds_after_every_step_and_the_cluster_recovers_once_healed(int nodes, int firstSeed, int runs)
    {
        var coverage = new Coverage();
        for (var seed = firstSeed; seed < firstSeed + runs; seed++)
        {
            new RandomizedRun(nodes, (ulong)(seed + (nodes * 100_000)), Steps, coverage).Run();
        }

        // The runs must actually exercise the hard paths, not just pass vacuously.
        var summary = $"committed {coverage.Committed}, leader terms {coverage.LeaderTerms}, restarts {coverage.Restarts}, snapshots {coverage.SnapshotsSent}, rejections {coverage.Rejections}, reads {coverage.ReadsServed}, config changes {coverage.ConfigChanges}";
        Assert.True(coverage.Committed > runs * 10, summary);
        Assert.True(coverage.LeaderTerms > runs * 3 / 2, summary);
        Assert.True(coverage.Restarts > runs * 3, summary);
        Assert.True(coverage.SnapshotsSent > runs / 2, summary);
        Assert.True(coverage.Rejections > runs * 5, summary);
        Assert.True(coverage.ReadsServed > runs * 2, summary);
        Assert.True(nodes == 3 || coverage.ConfigChanges > runs, summary);
    }

    private sealed class Coverage
    {
        public int Committed { get; set; }

        public int LeaderTerms { get; set; }

        public int Restarts { get; set; }

        public int SnapshotsSent { get; set; }

        public int Rejections { get; set; }

        public int ReadsServed { get; set; }

        public int ConfigChanges { get; set; }
    }

    private sealed class RandomizedRun
    {
        private readonly int _nodeCount;
        private readonly ulong _seed;
        private readonly int _steps;
        private readonly SeededRaftRandom _random;
        private readonly TestCluster _cluster;
        private readonly SafetyChecker _checker;
        private readonly Coverage _coverage;
        private readonly Dictionary<string, ulong> _readsRequestedAt = [];
        private int _step;
        private int _reads;

        public RandomizedRun(int nodeCount, ulong seed, int steps, Coverage coverage)
        {
            _coverage = coverage;
            _nodeCount = nodeCount;
            _seed = seed;
            _steps = steps;
            _random = new SeededRaftRandom(seed);
            _cluster = new TestCluster(nodeCount, seed: seed, configure: o =>
            {
                o.ElectionTicks = 10;
                o.MaxAppendBytes = 3 * (LogEntry.OverheadBytes + 16);
                o.MaxInflightMessages = 4;
                o.PreVote = seed % 4 != 3;
                o.CheckQuorum = seed % 4 != 2;
            });
            _checker = new SafetyChecker((nodeCount / 2) + 1);
        }

        private string Where => $"seed {_seed} ({_nodeCount} nodes) step {_step}";

        public void Run()
        {
            _cluster.ProcessReadies();
            for (_step = 0; _step < _steps; _step++)
            {
                RandomAction();
                _cluster.ProcessReadies();
                CollectReads();
                _checker.Check(_cluster, Where);
            }

            HealAndCheckLiveness();
            _coverage.Committed += _checker.CommittedCount;
            _coverage.LeaderTerms += _cluster.Sent.Where(m => m.Type == RaftMessageType.Append).Select(m => m.Term).Distinct().Count();
            _coverage.SnapshotsSent += _cluster.Sent.Count(m => m.Type == RaftMessageType.InstallSnapshot);
            _coverage.Rejections += _cluster.Sent.Count(m => m.Type == RaftMessageType.AppendResponse && m.Reject);
        }

        private void RandomAction()
        {
            var roll = _random.Next(1000);
            var node = _cluster[(ulong)(_random.Next(_nodeCount) + 1)];
            if (roll < 550)
            {
                for (var burst = _random.Next(4); burst >= 0; burst--)
                {
                    DeliverOne();
                }
            }
            else if (roll < 670)
            {
                node.Raft.Tick();
            }
            else if (roll < 820)
            {
                var leader = _cluster.Leaders().FirstOrDefault();
                leader?.Raft.Propose(Encoding.UTF8.GetBytes($"s{_seed}-{_step}"));
            }
            else if (roll < 828)
            {
                node.Restart();
                _coverage.Restarts++;
            }
            else if (roll < 843)
            {
                _cluster.Heal();
                if (_random.Next(2) == 0)
                {
                    _cluster.Isolate(node.Id);
                }
                else
                {
                    _cluster.Cut(node.Id, (ulong)(_random.Next(_nodeCount) + 1));
                }
            }
            else if (roll < 858)
            {
                _cluster.Heal();
            }
            else if (roll < 878)
            {
                Compact(node);
            }
            else if (roll < 918)
            {
                RequestRead(node);
            }
            else if (roll < 948 && _nodeCount == 5)
            {
                ChangeMembership();
            }
            else if (roll < 956)
            {
                var leader = _cluster.Leaders().FirstOrDefault();
                leader?.Raft.TransferLeadership((ulong)(_random.Next(_nodeCount) + 1));
            }
            else
            {
                DropOrDuplicate();
            }
        }

        private void DeliverOne()
        {
            var queue = _cluster.Queue;
            if (queue.Count == 0)
            {
                return;
            }

            // Reordering and delay: any queued message may be the next one delivered.
            var position = _random.Next(Math.Min(queue.Count, 8)) + (queue.Count > 8 ? _random.Next(queue.Count - 7) : 0);
            position = Math.Min(position, queue.Count - 1);
            var message = queue[position];
            queue.RemoveAt(position);
            if (_random.Next(300) == 0 && _cluster.CanReach(message.From, message.To))
            {
                // Crash after the step but before its Ready was persisted: its effects and messages are lost.
                var target = _cluster[message.To];
                target.Raft.Step(message);
                target.Restart();
                _coverage.Restarts++;
                return;
            }

            _cluster.Deliver(message);
        }

        private void DropOrDuplicate()
        {
            var queue = _cluster.Queue;
            if (queue.Count == 0)
            {
                return;
            }

            var position = _random.Next(queue.Count);
            if (_random.Next(2) == 0)
            {
                _cluster.ReportDropped(queue[position]);
                queue.RemoveAt(position);
            }
            else
            {
                queue.Add(queue[position]);
            }

            while (queue.Count > 400)
            {
                _cluster.ReportDropped(queue[0]);
                queue.RemoveAt(0);
            }
        }

        private void Compact(TestNode node)
        {
            var applied = node.AppliedIndex;
            if (applied <= node.Storage.Snapshot.Index || applied > node.Storage.LastIndex || applied == 0)
            {
                return;
            }

            // The checkpoint records what was applied; the configuration as of the applied index is the node's
            // latest committed configuration, which equals its current one once the last change is applied.
            var config = ConfigAt(node, applied);
            if (config is null)
            {
                return;
            }

            node.Storage.CreateSnapshot(applied, config, Encoding.UTF8.GetBytes($"applied-{applied}"));
        }

        private static ClusterConfig? ConfigAt(TestNode node, ulong index)
        {
            ClusterConfig? config = node.Storage.Snapshot.Config;
            for (var i = node.Storage.FirstIndex; i <= index; i++)
            {
                var entry = node.Storage.Entries(i, i + 1, ulong.MaxValue)[0];
                if (entry.Type == EntryType.ConfigChange && ClusterConfig.TryDecode(entry.Payload.Span, out var decoded))
                {
                    config = decoded;
                }
            }

            return config is { Voters.Count: > 0 } ? config : null;
        }

        private void RequestRead(TestNode node)
        {
            var context = $"r{_reads++}";
            if (node.Raft.ReadIndex(Encoding.UTF8.GetBytes(context)))
            {
                // Linearizability: the read index must cover everything committed before the request.
                _readsRequestedAt[context] = _checker.MaxCommitted;
            }
        }

        private void CollectReads()
        {
            foreach (var node in _cluster.Nodes.Values)
            {
                foreach (var read in node.ReadStates)
                {
                    var context = Encoding.UTF8.GetString(read.Context.Span);
                    _coverage.ReadsServed++;
                    if (_readsRequestedAt.Remove(context, out var requiredIndex) && read.Index < requiredIndex)
                    {
                        throw new InvalidOperationException($"{Where}: read {context} got index {read.Index} < {requiredIndex} committed before it");
                    }
                }

                node.ReadStates.Clear();
            }
        }

        private void ChangeMembership()
        {
            var leader = _cluster.Leaders().FirstOrDefault();
            if (leader is null)
            {
                return;
            }

            var config = leader.Status.Config;
            const ulong target = 5;
            var change = config.IsVoter(target) ? new ConfigChange(ConfigChangeType.Remove, target)
                : config.IsLearner(target) ? new ConfigChange(ConfigChangeType.AddVoter, target)
                : new ConfigChange(ConfigChangeType.AddLearner, target);
            if (leader.Raft.ProposeConfigChange(change).IsAccepted)
            {
                _coverage.ConfigChanges++;
            }
        }

        private void HealAndCheckLiveness()
        {
            _cluster.Heal();
            for (var round = 0; round < 400; round++)
            {
                _cluster.TickAll();
                _checker.Check(_cluster, Where + " (healed)");
                var leader = _cluster.Leaders().FirstOrDefault(l => l.Status.Commit == l.Status.LastIndex && l.Raft.Log.TermOrZero(l.Status.Commit) == l.Status.Term);
                if (leader is null)
                {
                    continue;
                }

                var result = leader.Raft.Propose(Encoding.UTF8.GetBytes($"final-{_seed}"));
                if (!result.IsAccepted)
                {
                    continue;
                }

                var members = _cluster.Nodes.Values.Where(n => leader.Status.Config.Contains(n.Id)).ToList();
                for (var tick = 0; tick < 50 && members.Any(m => m.Status.Commit < result.Index); tick++)
                {
                    _cluster.TickAll();
                    _checker.Check(_cluster, Where + " (final)");
                }

                foreach (var member in members)
                {
                    Assert.True(member.Status.Commit >= result.Index, $"{Where}: node {member.Id} commit {member.Status.Commit} < {result.Index} after healing; {Describe()}");
                }

                return;
            }

            Assert.Fail($"{Where}: no leader committed after healing; {Describe()}");
        }

        private string Describe() => string.Join("; ", _cluster.Nodes.Values.Select(n => n.Status.ToString()))
            + " progress: " + string.Join(" | ", _cluster.Leaders().Select(l => l.Raft.DescribeProgress()))
            + "\nlast: " + string.Join("\n", _cluster.Sent.TakeLast(12));
    }
}
