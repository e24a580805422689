using WalrusGossip.Raft;
using WalrusGossip.Storage;
using WalrusGossip.Storage.IO;

namespace WalrusGossip.Node.Tests;

/// <summary>Three real <see cref="WalrusNode"/>s on temporary directories, wired by an in-memory network and a manual clock.</summary>
public sealed class NodeClusterTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "walrus-node-" + Guid.NewGuid().ToString("N"));
    private readonly ManualClock _clock = new();
    private readonly Queue<Action> _network = new();
    private readonly Dictionary<ulong, WalrusNode> _nodes = [];

    /// <summary>Nodes cut off from the others: Raft messages from or to them are dropped when they would be delivered (gossip still flows).</summary>
    private readonly HashSet<ulong> _cutOff = [];

    /// <summary>When set, Raft messages it returns true for are dropped on delivery (loss injection).</summary>
    private Func<RaftMessage, bool>? _drop;
    private int _snapshotChunkBytes = new NodeOptions().SnapshotChunkBytes;
    private TimeSpan _deadServerGrace = new NodeOptions().DeadServerGrace;
    private IReadOnlyList<byte[]> _gossipKeys = [];
    private readonly List<(string To, bool Reliable, byte[] Payload)> _gossipSent = [];

    /// <summary>Node ids the transports report as holding no node certificate (<see cref="INodeTransport.IsPeerCertified"/>).</summary>
    private readonly HashSet<ulong> _uncertified = [];
    private readonly FileSystemDevice _disk = FileSystemDevice.Create(IoEngine.Psync);
    private readonly Dictionary<ulong, SpaceReportingDevice> _devices = [];

    public NodeClusterTests()
    {
        foreach (var id in new ulong[] { 1, 2, 3 })
        {
            AddNode(id, [1, 2, 3]);
        }
    }

    private WalrusNode AddNode(ulong id, IReadOnlyList<ulong> voters, ulong checkpointEveryEntries = 100_000, RetentionPolicy? retention = null)
    {
        var options = new NodeOptions
        {
            NodeId = id,
            GossipAddress = $"node{id}",
            DataDirectory = Path.Combine(_root, $"n{id}"),
            InitialVoters = voters,
            GossipSeeds = id == 1 ? [] : ["node1"],
            ManageMembership = true,
            Storage = new StorageOptions
            {
                MaxSegmentBytes = retention is null ? 1 << 20 : StorageOptions.MinSegmentBytes, MaxEntryBytes = 16 * 1024, Durability = DurabilityPolicy.None,
                RunInBackground = work => { work(); return Task.CompletedTask; }, // checkpoint writes finish within the step that starts them
                Retention = retention ?? RetentionPolicy.KeepAll,
            },
            CheckpointEveryEntries = checkpointEveryEntries,
            SnapshotChunkBytes = _snapshotChunkBytes,
            DeadServerGrace = _deadServerGrace,
            GossipKeys = _gossipKeys,
            SnapshotWindowBytes = 4 * _snapshotChunkBytes,
        };
        if (!_devices.TryGetValue(id, out var device))
        {
            _devices[id] = device = new SpaceReportingDevice(_disk);
        }

        var node = new WalrusNode(options, device, new Transport(this, $"node{id}"), _clock, new Random((int)id));
        _nodes[id] = node;
        node.Start();
        return node;
    }

    [Fact]
    public void An_agent_that_joins_beyond_the_target_voters_stays_a_learner_serves_reads_and_replaces_a_voter_dead_past_the_grace()
    {
        _deadServerGrace = TimeSpan.FromSeconds(5);
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 20; seq++)
        {
            leader.Append(5, seq, AppendCommand.Encode(5, seq, null, [(byte)seq]), results.Add);
        }

        var joiner = AddNode(4, []);
        Assert.True(joiner.IsUnconfigured);
        RunUntil(() => _nodes.Values.Any(n => n.Status.Role == RaftRole.Leader && n.Status.Learners.Contains(4ul)) ? this : null, TimeSpan.FromSeconds(30));
        var reads = new List<ReadResult>();
        joiner.ReadBarrier(reads.Add);
        RunUntil(() => reads.Count == 1 ? reads : null, TimeSpan.FromSeconds(5));
        Assert.Equal(RequestStatus.Ok, reads[0].Status);
        Assert.True(joiner.Status.AppliedIndex >= results[^1].Index);
        Assert.Equal(leader.LocalLog.Read(results[^1].Index).Payload.ToArray(), joiner.LocalLog.Read(results[^1].Index).Payload.ToArray());
        RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal([1ul, 2, 3], leader.Status.Voters); // the target is 3: autopilot does not promote past it
        Assert.Equal(0, leader.AutopilotPromotions);

        // A voter (not the leader) dies and stays down: once SWIM has held it dead for the grace period, autopilot
        // removes it and promotes the caught-up learner, one change at a time, and appends keep committing.
        var victim = _nodes.Keys.First(id => id != leader.Id && id != 4);
        _nodes[victim].Dispose();
        _nodes.Remove(victim);
        RunUntil(() => leader.Status.Voters.SequenceEqual(new ulong[] { 1, 2, 3, 4 }.Where(id => id != victim)) ? this : null, TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(victim, leader.Status.Learners);
        Assert.Equal(1, leader.AutopilotVoterRemovals);
        Assert.Equal(1, leader.AutopilotPromotions);
        Assert.Equal(RequestStatus.Ok, Committed(leader, 6, 1).Status);
    }

    [Fact]
    public void A_gossip_member_without_a_node_certificate_is_never_added_as_a_learner_until_it_proves_one()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        _uncertified.Add(4);
        AddNode(4, []);
        RunUntil(() => leader.GetMembers().Any(m => m.Name == "4" && m.State == WalrusGossip.Membership.MemberState.Alive) ? this : null, TimeSpan.FromSeconds(10));
        RunFor(TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(4ul, leader.Status.Learners);
        Assert.DoesNotContain(4ul, leader.Status.Voters);
        Assert.Equal(0, leader.AutopilotLearnersAdded);
        Assert.Equal(1, leader.AutopilotUncertifiedSkipped); // counted once, not at every autopilot round

        // Once the member proves a certificate (the agent: a Raft link's mutual-TLS handshake), autopilot adds it.
        _uncertified.Remove(4);
        RunUntil(() => leader.Status.Learners.Contains(4ul) ? this : null, TimeSpan.FromSeconds(10));
        Assert.Equal(1, leader.AutopilotLearnersAdded);
    }

    [Fact]
    public void Two_instances_share_a_consumers_entries_an_unacknowledged_batch_goes_to_the_other_after_the_ack_timeout_and_the_floor_replicates()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var created = new List<ConsumerResult>();
        leader.ChangeConsumer(new ConsumerChange(ConsumerChangeKind.Create, "q", "work", 1_000), created.Add);
        RunUntil(() => created.Count == 1 ? created : null, TimeSpan.FromSeconds(5));
        Assert.Equal(RequestStatus.Ok, created[0].Status);
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 10; seq++)
        {
            leader.Append(9, seq, AppendCommand.Encode(9, seq, "q", [(byte)seq]), results.Add);
        }

        RunUntil(() => results.Count == 10 ? results : null, TimeSpan.FromSeconds(5));
        Assert.Equal(Enumerable.Range(1, 10).Select(i => (ulong)i), results.Select(r => r.StreamSequence));

        var first = leader.ConsumerFetch("q", "work", instance: 1, maxCount: 4);
        var second = leader.ConsumerFetch("q", "work", instance: 2, maxCount: 4);
        Assert.Equal([1ul, 2, 3, 4], first.Deliveries.Select(d => d.Sequence)); // each entry to one instance
        Assert.Equal([5ul, 6, 7, 8], second.Deliveries.Select(d => d.Sequence));
        Assert.Equal(0ul, leader.ConsumerAck("q", "work", instance: 2, upToSequence: 8).AckFloor); // 1-4 are still out
        Assert.DoesNotContain(leader.ConsumerFetch("q", "work", instance: 2, maxCount: 2).Deliveries, d => d.Sequence < 5);

        // Instance 1 dies: once the ack timeout passes, its entries go to instance 2, counted as redeliveries.
        // (Instance 2's 9 and 10 from the fetch above are overdue as well by then.)
        RunFor(TimeSpan.FromSeconds(1.5));
        var again = leader.ConsumerFetch("q", "work", instance: 2, maxCount: 10);
        Assert.Equal([1ul, 2, 3, 4, 9, 10], again.Deliveries.Where(d => d.DeliveryCount == 2).Select(d => d.Sequence)); // 9 and 10 had also timed out
        Assert.Equal(8ul, leader.ConsumerAck("q", "work", instance: 2, upToSequence: 4).AckFloor);
        Assert.Equal(8ul, leader.ConsumerAck("q", "work", instance: 1, upToSequence: 4).AckFloor); // a late ack of the dead instance moves nothing
        RunUntil(() => _nodes.Values.All(n => n.Consumers.Find("q", "work")?.AckFloor == 8) ? this : null, TimeSpan.FromSeconds(5));
        Assert.Equal(6, leader.ConsumerPending("q", "work")!.Value.Redeliveries);

        var missing = leader.ConsumerFetch("q", "nobody", 1, 1);
        Assert.Equal(RequestStatus.NotFound, missing.Status);
        var follower = _nodes.Values.First(n => n != leader);
        Assert.Equal(RequestStatus.NotLeader, follower.ConsumerFetch("q", "work", 1, 1).Status);
    }

    [Fact]
    public void An_operator_removes_a_live_voter_which_is_told_stops_voting_and_stays_removed_after_a_restart()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        Assert.Equal(RequestStatus.Ok, Committed(leader, 7, 1).Status);
        var victim = _nodes.Keys.First(id => id != leader.Id);
        var answers = new List<MemberChangeResult>();
        leader.ChangeMembership(new ConfigChange(ConfigChangeType.Remove, victim), answers.Add);
        RunUntil(() => answers.Count == 1 ? answers : null, TimeSpan.FromSeconds(5));
        Assert.Equal(RequestStatus.Ok, answers[0].Status);
        Assert.False(answers[0].Config.Contains(victim));
        RunUntil(() => _nodes[victim].IsRemoved ? this : null, TimeSpan.FromSeconds(5));
        Assert.Equal(1, leader.OperatorMemberChanges);

        // It neither campaigns nor disturbs the others, and gossip does not bring it back as a learner.
        var term = leader.Status.Term;
        RunFor(TimeSpan.FromSeconds(10));
        Assert.Equal(RaftRole.Leader, leader.Status.Role);
        Assert.Equal(term, leader.Status.Term);
        Assert.DoesNotContain(victim, leader.Status.Learners);
        Assert.Equal(RequestStatus.Ok, Committed(leader, 7, 2).Status);

        Restart(victim, 100_000);
        Assert.True(_nodes[victim].IsRemoved);
        RunFor(TimeSpan.FromSeconds(5));
        Assert.Equal(term, leader.Status.Term);

        // Changes that do not apply are refused with a typed status, and nothing is proposed.
        var refused = new List<MemberChangeResult>();
        leader.ChangeMembership(new ConfigChange(ConfigChangeType.AddVoter, leader.Id), refused.Add);
        leader.ChangeMembership(new ConfigChange(ConfigChangeType.Remove, 99), refused.Add);
        Assert.All(refused, r => Assert.Equal(RequestStatus.InvalidArgument, r.Status));
        var follower = _nodes.Values.First(n => n.Id != leader.Id && n.Id != victim);
        follower.ChangeMembership(new ConfigChange(ConfigChangeType.Demote, leader.Id), refused.Add);
        Assert.Equal(RequestStatus.NotLeader, refused[^1].Status);
        Assert.Equal(leader.Id, refused[^1].LeaderId);
    }

    [Fact]
    public void A_demoted_voter_stays_a_learner_and_a_second_change_while_one_is_in_flight_is_refused()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        Assert.Equal(RequestStatus.Ok, Committed(leader, 8, 1).Status);
        var target = _nodes.Keys.First(id => id != leader.Id);
        var answers = new List<MemberChangeResult>();
        leader.ChangeMembership(new ConfigChange(ConfigChangeType.Demote, target), answers.Add);
        var other = _nodes.Keys.First(id => id != leader.Id && id != target);
        leader.ChangeMembership(new ConfigChange(ConfigChangeType.Demote, other), answers.Add); // the first is not committed yet
        Assert.Single(answers);
        Assert.Equal(RequestStatus.Retry, answers[0].Status);
        RunUntil(() => answers.Count == 2 ? answers : null, TimeSpan.FromSeconds(5));
        Assert.Equal(RequestStatus.Ok, answers[1].Status);
        Assert.True(answers[1].Config.IsLearner(target));
        RunFor(TimeSpan.FromSeconds(10));
        Assert.Contains(target, leader.Status.Learners); // autopilot holds off re-promoting it
        Assert.True(_nodes[target].Status.IsLearner);
        Assert.Equal(RequestStatus.Ok, Committed(leader, 8, 2).Status);
    }

    [Fact]
    public void A_leader_is_elected_appends_commit_on_every_node_and_a_retry_returns_the_original_index()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 50; seq++)
        {
            leader.Append(77, seq, AppendCommand.Encode(77, seq, "s", [(byte)seq]), results.Add);
        }

        RunUntil(() => results.Count == 50 ? results : null, TimeSpan.FromSeconds(5));
        Assert.All(results, r => Assert.Equal(RequestStatus.Ok, r.Status));
        var retried = new List<AppendResult>();
        leader.Append(77, 50, AppendCommand.Encode(77, 50, "s", [50]), retried.Add);
        Assert.Equal((RequestStatus.Ok, results[49].Index), (Assert.Single(retried).Status, retried[0].Index));
        var oldest = new List<AppendResult>();
        leader.Append(77, 1, AppendCommand.Encode(77, 1, "s", [1]), oldest.Add);
        Assert.Equal((RequestStatus.Ok, results[0].Index), (Assert.Single(oldest).Status, oldest[0].Index));

        var commit = leader.Status.CommitIndex;
        RunUntil(() => _nodes.Values.All(n => n.Status.AppliedIndex >= commit) ? this : null, TimeSpan.FromSeconds(5));
        foreach (var node in _nodes.Values)
        {
            for (var i = results[0].Index; i <= results[^1].Index; i++)
            {
                Assert.Equal(leader.LocalLog.Read(i).Payload.ToArray(), node.LocalLog.Read(i).Payload.ToArray());
            }
        }

        var follower = _nodes.Values.First(n => n != leader);
        var reads = new List<ReadResult>();
        follower.ReadBarrier(reads.Add);
        RunUntil(() => reads.Count == 1 ? reads : null, TimeSpan.FromSeconds(5));
        Assert.True(reads[0].ReadIndex >= results[^1].Index);
        Assert.Equal(RequestStatus.NotLeader, Append(follower, 5, 1).Status);
    }

    [Fact]
    public void Appends_inside_a_batch_share_one_Ready_and_one_append_message_per_follower()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        RunUntil(() => _network.Count == 0 && _nodes.Values.All(n => n.Status.AppliedIndex == leader.Status.CommitIndex) ? this : null, TimeSpan.FromSeconds(5));
        var messagesBefore = _network.Count;
        var results = new List<AppendResult>();

        leader.BeginBatch();
        for (ulong seq = 1; seq <= 100; seq++)
        {
            leader.Append(9, seq, AppendCommand.Encode(9, seq, null, [(byte)seq]), results.Add);
        }

        Assert.Equal(messagesBefore, _network.Count); // nothing sent before the batch ends
        leader.EndBatch();

        Assert.Equal(messagesBefore + 2, _network.Count);
        RunUntil(() => results.Count == 100 ? results : null, TimeSpan.FromSeconds(5));
        Assert.All(results, r => Assert.Equal(RequestStatus.Ok, r.Status));
        Assert.Equal(Enumerable.Range(0, 100).Select(i => results[0].Index + (ulong)i), results.Select(r => r.Index));
        Assert.Throws<InvalidOperationException>(leader.EndBatch);
    }

    /// <summary>How long the agent's client service waits for a read barrier before it answers TIMEOUT (ClientService.ReadPointTimeout).</summary>
    private static readonly TimeSpan ClientReadTimeout = TimeSpan.FromSeconds(5);

    [Fact]
    public void A_read_barrier_lost_to_a_leader_change_is_answered_retry_not_left_waiting()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var appended = new List<AppendResult>();
        leader.Append(3, 1, AppendCommand.Encode(3, 1, null, [1]), appended.Add);
        RunUntil(() => appended.Count == 1 && _network.Count == 0 ? appended : null, TimeSpan.FromSeconds(5));
        Assert.Equal(RequestStatus.Ok, appended[0].Status);
        var (commitBefore, termBefore) = (leader.Status.CommitIndex, leader.Status.Term);
        var follower = _nodes.Values.First(n => n != leader);

        var reads = new List<ReadResult>();
        follower.ReadBarrier(reads.Add);
        Assert.Empty(reads); // forwarded to the leader: the ReadIndex request is in flight
        _cutOff.Add(leader.Id); // the request, and every later message of the old leader, is lost
        var issuedAt = _clock.Now;

        RunUntil(() => reads.Count > 0 ? reads : null, ClientReadTimeout);
        var answeredAfter = _clock.Now - issuedAt;
        RunUntil(() => _nodes.Values.FirstOrDefault(n => n != leader && n.Status.Role == RaftRole.Leader && n.Status.Term > termBefore), TimeSpan.FromSeconds(5));
        RunFor(TimeSpan.FromSeconds(2)); // a second answer would show up here

        var read = Assert.Single(reads);
        Assert.True(
            read.Status is RequestStatus.Retry or RequestStatus.NotLeader || (read.Status == RequestStatus.Ok && read.ReadIndex >= commitBefore),
            $"answered {read.Status} at index {read.ReadIndex} (commit index before the read: {commitBefore}) after {answeredAfter}");
        Assert.True(answeredAfter < ClientReadTimeout, $"answered after {answeredAfter} of simulated time");
    }

    [Fact]
    public void A_read_barrier_on_a_leader_that_is_cut_off_is_answered_retry_when_it_steps_down()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        RunUntil(() => _network.Count == 0 && leader.Status.CommitIndex > 0 ? this : null, TimeSpan.FromSeconds(5));
        var termBefore = leader.Status.Term;

        var reads = new List<ReadResult>();
        leader.ReadBarrier(reads.Add);
        Assert.Empty(reads); // the heartbeat round that would confirm it is in flight
        _cutOff.Add(leader.Id);
        var issuedAt = _clock.Now;
        var successor = RunUntil(() => _nodes.Values.FirstOrDefault(n => n != leader && n.Status.Role == RaftRole.Leader && n.Status.Term > termBefore), TimeSpan.FromSeconds(5));
        _cutOff.Clear(); // the old leader hears the new leader's next heartbeat and its term

        RunUntil(() => reads.Count > 0 ? reads : null, ClientReadTimeout - (_clock.Now - issuedAt));
        RunFor(TimeSpan.FromSeconds(2));

        // The old leader answers when it steps down: by CheckQuorum (no leader known yet, hint 0) or on the new term (hint = successor).
        var read = Assert.Single(reads);
        Assert.Equal(RequestStatus.Retry, read.Status);
        Assert.Contains(read.LeaderId, new ulong[] { 0, successor.Id });
    }

    [Fact]
    public void Checkpoints_are_taken_as_entries_apply_and_restarted_nodes_resume_from_them_with_their_sessions_and_whole_log()
    {
        foreach (var id in _nodes.Keys.ToList())
        {
            Restart(id, checkpointEveryEntries: 20);
        }

        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 100; seq++)
        {
            leader.Append(9, seq, AppendCommand.Encode(9, seq, null, [(byte)seq]), results.Add);
        }

        RunUntil(() => results.Count == 100 && _nodes.Values.All(n => n.AppliedIndex >= results[^1].Index) ? results : null, TimeSpan.FromSeconds(10));
        var last = results[^1].Index;
        foreach (var node in _nodes.Values)
        {
            Assert.InRange(node.CheckpointIndex, last - 20, last);
            Assert.True(node.CheckpointsTaken >= 4, $"n{node.Id} took {node.CheckpointsTaken} checkpoints");
        }

        var checkpoints = _nodes.ToDictionary(n => n.Key, n => n.Value.CheckpointIndex);
        foreach (var id in _nodes.Keys.ToList())
        {
            Restart(id, checkpointEveryEntries: 20);
            Assert.Equal(checkpoints[id], _nodes[id].CheckpointIndex);
            Assert.Equal(1ul, _nodes[id].LocalLog.FirstIndex); // no retention configured: the log before the checkpoint stays
            Assert.True(LogStateMachine.TryDecodeAppend(_nodes[id].LocalLog.Read(results[0].Index).Payload, out _, out var data));
            Assert.Equal([(byte)1], data.ToArray());
        }

        var newLeader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var retried = new List<AppendResult>();
        newLeader.Append(9, 40, AppendCommand.Encode(9, 40, null, [40]), retried.Add);
        RunUntil(() => retried.Count == 1 ? retried : null, TimeSpan.FromSeconds(5));
        Assert.Equal((RequestStatus.Ok, results[39].Index), (retried[0].Status, retried[0].Index));
    }

    [Fact]
    public void A_follower_behind_the_leaders_first_retained_index_catches_up_through_a_snapshot_on_disk_then_replicates()
    {
        var retention = new RetentionPolicy { MaxEntries = 100 };
        foreach (var id in _nodes.Keys.ToList())
        {
            Restart(id, checkpointEveryEntries: 20, retention);
        }

        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var behind = _nodes.Values.First(n => n != leader);
        _cutOff.Add(behind.Id);
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 600; seq++)
        {
            leader.Append(11, seq, AppendCommand.Encode(11, seq, null, new byte[1000]), results.Add);
        }

        RunUntil(() => results.Count == 600 ? results : null, TimeSpan.FromSeconds(20));
        Assert.True(leader.LocalLog.FirstIndex > behind.LocalLog.LastIndex + 1, $"leader retains from {leader.LocalLog.FirstIndex}, the follower holds up to {behind.LocalLog.LastIndex}");
        Assert.True(leader.Committed.FirstIndex == leader.LocalLog.FirstIndex, "the committed view shows the new first index");

        _cutOff.Clear();
        RunUntil(() => behind.AppliedIndex >= results[^1].Index ? behind : null, TimeSpan.FromSeconds(20));
        Assert.True(behind.CheckpointIndex >= leader.LocalLog.FirstIndex - 1, $"installed snapshot at {behind.CheckpointIndex}");
        Assert.Equal(behind.CheckpointIndex + 1, behind.LocalLog.FirstIndex); // a snapshot replaces the log before it

        var more = new List<AppendResult>();
        for (ulong seq = 601; seq <= 610; seq++)
        {
            leader.Append(11, seq, AppendCommand.Encode(11, seq, null, [(byte)seq]), more.Add);
        }

        RunUntil(() => more.Count == 10 && _nodes.Values.All(n => n.AppliedIndex >= more[^1].Index) ? more : null, TimeSpan.FromSeconds(10));
        for (var index = behind.LocalLog.FirstIndex; index <= more[^1].Index; index++)
        {
            Assert.Equal(leader.LocalLog.Read(index).Payload.ToArray(), behind.LocalLog.Read(index).Payload.ToArray());
        }

        // The session table came with the snapshot: a retry of an append applied before it gets its original index.
        var retried = new List<AppendResult>();
        leader.Append(11, 590, AppendCommand.Encode(11, 590, null, new byte[1000]), retried.Add);
        RunUntil(() => retried.Count == 1 ? retried : null, TimeSpan.FromSeconds(5));
        Assert.Equal(results[589].Index, retried[0].Index);
    }

    [Fact]
    public void A_wiped_follower_catches_up_through_a_chunked_snapshot_that_survives_loss_and_a_cut_connection_then_replicates()
    {
        _snapshotChunkBytes = 256;
        var retention = new RetentionPolicy { MaxEntries = 100 };
        foreach (var id in _nodes.Keys.ToList())
        {
            Restart(id, checkpointEveryEntries: 20, retention);
        }

        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var wiped = _nodes.Values.First(n => n != leader);
        var wipedId = wiped.Id;
        wiped.Dispose();
        _nodes.Remove(wipedId);
        Directory.Delete(Path.Combine(_root, $"n{wipedId}"), recursive: true);

        // 400 sessions, so the state machine's snapshot (about 7 KiB in MessagePack) spans many 256-byte chunks.
        var results = new List<AppendResult>();
        for (ulong client = 1; client <= 400; client++)
        {
            leader.Append(1000 + client, 1, AppendCommand.Encode(1000 + client, 1, null, new byte[600]), results.Add);
        }

        RunUntil(() => results.Count == 400 ? results : null, TimeSpan.FromSeconds(20));
        Assert.All(results, r => Assert.Equal(RequestStatus.Ok, r.Status));
        Assert.True(leader.LocalLog.FirstIndex > 2, $"the leader still retains from {leader.LocalLog.FirstIndex}");

        // The wiped node comes back empty. Every 7th chunk is lost; after 15 chunks (of about 28) its link is cut for longer than
        // the transfer's retransmissions last, so the leader reports the transfer failed and later resumes it.
        var chunks = 0;
        var cut = false;
        _drop = m =>
        {
            if (m.Type == RaftMessageType.SnapshotChunk && m.Chunk!.Data.Length > 0 && !cut)
            {
                cut = ++chunks == 15;
                return chunks % 7 == 0;
            }

            return cut && (m.From == wipedId || m.To == wipedId);
        };
        var rejoined = AddNode(wipedId, []);
        RunUntil(() => cut ? this : null, TimeSpan.FromSeconds(30));
        RunFor(TimeSpan.FromSeconds(20));
        Assert.True(leader.SnapshotTransfersFailed >= 1, $"the cut transfer was reported failed to Raft (chunks sent {leader.SnapshotChunksSent})");
        Assert.Equal(0, rejoined.SnapshotsInstalled);
        cut = false;
        chunks = 100; // every 7th chunk is still lost, but the link is not cut again

        RunUntil(() => rejoined.SnapshotsInstalled >= 1 && rejoined.AppliedIndex >= results[^1].Index ? rejoined : null, TimeSpan.FromSeconds(60));
        Assert.True(leader.SnapshotTransfersResumed >= 1, "the second transfer resumed where the first stopped");
        Assert.True(leader.SnapshotBytesSent > 15 * 256, $"snapshot bytes sent {leader.SnapshotBytesSent}");
        Assert.Equal(rejoined.CheckpointIndex + 1, rejoined.LocalLog.FirstIndex);

        _drop = null;
        var more = new List<AppendResult>();
        for (ulong seq = 2; seq <= 11; seq++)
        {
            leader.Append(1001, seq, AppendCommand.Encode(1001, seq, null, [(byte)seq]), more.Add);
        }

        RunUntil(() => more.Count == 10 && _nodes.Values.All(n => n.AppliedIndex >= more[^1].Index) ? more : null, TimeSpan.FromSeconds(10));
        for (var index = rejoined.LocalLog.FirstIndex; index <= more[^1].Index; index++)
        {
            Assert.Equal(leader.LocalLog.Read(index).Payload.ToArray(), rejoined.LocalLog.Read(index).Payload.ToArray());
        }

        // The sessions came with the snapshot: a retry of the first client's first append gets its original index.
        var retried = new List<AppendResult>();
        rejoined.Append(1001, 1, AppendCommand.Encode(1001, 1, null, new byte[600]), retried.Add);
        leader.Append(1001, 1, AppendCommand.Encode(1001, 1, null, new byte[600]), retried.Add);
        RunUntil(() => retried.Count == 2 ? retried : null, TimeSpan.FromSeconds(5));
        Assert.Contains(retried, r => r.Status == RequestStatus.Ok && r.Index == results[0].Index);
    }

    [Fact]
    public void Below_the_disk_reserve_the_leader_refuses_appends_a_follower_refuses_entries_and_both_resume_when_space_returns()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var follower = _nodes.Values.First(n => n != leader);
        var before = Committed(leader, 21, 1);
        RunUntil(() => _nodes.Values.All(n => n.AppliedIndex >= before.Index) ? this : null, TimeSpan.FromSeconds(5));

        _devices[leader.Id].Available = 1 << 20; // below the default 512 MiB reserve
        _devices[follower.Id].Available = 0;
        RunFor(TimeSpan.FromSeconds(1.5)); // the nodes look once a second
        Assert.True(leader.IsLowOnSpace && follower.IsLowOnSpace);
        var refused = Append(leader, 21, 2);
        Assert.Equal(RequestStatus.NoSpace, refused.Status);
        Assert.Equal(RaftRole.Leader, leader.Status.Role);

        // The leader regains space; the follower has none: the third node alone makes the quorum, the follower stays
        // in the cluster (no election) and takes no entries.
        _devices[leader.Id].Available = long.MaxValue;
        RunFor(TimeSpan.FromSeconds(1.5));
        var term = leader.Status.Term;
        var during = Committed(leader, 21, 3);
        Assert.Equal(RequestStatus.Ok, during.Status);
        RunFor(TimeSpan.FromSeconds(3));
        Assert.True(follower.LocalLog.LastIndex < during.Index, "a follower below the reserve took new entries");
        Assert.True(follower.RefusedForSpace > 0);
        Assert.Equal((term, RaftRole.Leader), (leader.Status.Term, leader.Status.Role));

        _devices[follower.Id].Available = long.MaxValue;
        RunUntil(() => follower.AppliedIndex >= during.Index ? follower : null, TimeSpan.FromSeconds(5));
        Assert.False(follower.IsLowOnSpace);
        Assert.Equal(leader.LocalLog.Read(during.Index).Payload.ToArray(), follower.LocalLog.Read(during.Index).Payload.ToArray());
        Assert.Equal(RequestStatus.Ok, Committed(leader, 21, 4).Status);
    }

    private AppendResult Committed(WalrusNode leader, ulong client, ulong seq)
    {
        var results = new List<AppendResult>();
        leader.Append(client, seq, AppendCommand.Encode(client, seq, null, [(byte)seq]), results.Add);
        return RunUntil(() => results.Count == 1 ? results : null, TimeSpan.FromSeconds(5))[0];
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_byte_flipped_in_a_sealed_segment_while_stopped_is_repaired_from_peers_at_start(bool leaderDamaged)
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 300; seq++)
        {
            leader.Append(42, seq, AppendCommand.Encode(42, seq, null, new byte[10_000]), results.Add);
        }

        RunUntil(() => results.Count == 300 ? results : null, TimeSpan.FromSeconds(30));
        var commit = leader.Status.CommitIndex;
        RunUntil(() => _nodes.Values.All(n => n.Status.AppliedIndex >= commit) ? this : null, TimeSpan.FromSeconds(10));
        var victim = leaderDamaged ? leader : _nodes.Values.First(n => n != leader);
        var id = victim.Id;
        var dir = Path.Combine(_root, $"n{id}");
        victim.Dispose();
        _nodes.Remove(id);

        var segment = Path.Combine(dir, "log", "00000000000000000001.seg");
        using (var f = File.Open(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 500_000; // inside a 10 KB payload in the middle of the first (sealed) segment
            var b = f.ReadByte();
            f.Position = 500_000;
            f.WriteByte((byte)(b ^ 0x20));
        }

        Assert.False(StoreVerifier.Verify(dir).Intact);
        var restarted = AddNode(id, [1, 2, 3]);
        Assert.Equal(1, restarted.DamagedRangesFound);
        Assert.True(restarted.IsRepairing);
        RunUntil(() => !restarted.IsRepairing && restarted.EntriesRepaired > 0 ? this : null, TimeSpan.FromSeconds(10));
        RunUntil(() => restarted.Status.AppliedIndex >= commit ? this : null, TimeSpan.FromSeconds(10));
        var other = _nodes.Values.First(n => n != restarted);
        for (var i = results[0].Index; i <= results[^1].Index; i++)
        {
            Assert.Equal(other.LocalLog.Read(i).Payload.ToArray(), restarted.LocalLog.Read(i).Payload.ToArray());
        }

        restarted.Dispose();
        _nodes.Remove(id);
        Assert.True(StoreVerifier.Verify(dir).Intact);
    }

    [Fact]
    public void A_damaged_range_below_the_nodes_own_checkpoint_is_dropped_with_the_log_prefix_not_repaired()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var victim = _nodes.Values.First(n => n != leader);
        var id = victim.Id;
        Restart(id, checkpointEveryEntries: 50);
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 300; seq++)
        {
            leader.Append(45, seq, AppendCommand.Encode(45, seq, null, new byte[10_000]), results.Add);
        }

        RunUntil(() => results.Count == 300 ? results : null, TimeSpan.FromSeconds(30));
        var commit = leader.Status.CommitIndex;
        RunUntil(() => _nodes[id].Status.AppliedIndex >= commit && _nodes[id].CheckpointIndex >= commit - 50 ? this : null, TimeSpan.FromSeconds(10));
        var dir = Path.Combine(_root, $"n{id}");
        _nodes[id].Dispose();
        _nodes.Remove(id);
        var segment = Path.Combine(dir, "log", "00000000000000000001.seg");
        using (var f = File.Open(segment, FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 500_000; // inside a payload of the first (sealed) segment, far below the checkpoint
            var b = f.ReadByte();
            f.Position = 500_000;
            f.WriteByte((byte)(b ^ 0x20));
        }

        var restarted = AddNode(id, [1, 2, 3], checkpointEveryEntries: 50);
        Assert.Equal(1, restarted.DamagedRangesFound);
        RunUntil(() => !restarted.IsRepairing ? this : null, TimeSpan.FromSeconds(5));
        Assert.Equal((1L, 0L), (restarted.DamageDroppedBelowCheckpoint, restarted.EntriesRepaired));
        Assert.True(restarted.LocalLog.FirstIndex > 1);
        Assert.Equal(RequestStatus.Ok, Committed(leader, 45, 301).Status);
        RunUntil(() => restarted.Status.AppliedIndex >= leader.Status.CommitIndex ? this : null, TimeSpan.FromSeconds(5));
        restarted.Dispose();
        _nodes.Remove(id);
        var report = StoreVerifier.Verify(dir);
        Assert.True(report.Intact, string.Join("; ", report.Problems.Concat(report.Corruptions.Select(c => c.ToString()))));
    }

    [Fact]
    public void A_damaged_range_every_peer_compacted_is_replaced_by_the_leaders_checkpoint_and_the_log_after_it_is_kept()
    {
        // walrus-sim seed 6 (3 nodes, 120 s): a node repairing a range that both peers had compacted abstained for good.
        var retention = new RetentionPolicy { MaxEntries = 100 };
        Restart(1, checkpointEveryEntries: 20, retention);
        Restart(2, checkpointEveryEntries: 20, retention);
        Restart(3, checkpointEveryEntries: 100_000); // keeps its whole log and takes no checkpoint of its own
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 300; seq++)
        {
            leader.Append(46, seq, AppendCommand.Encode(46, seq, null, new byte[10_000]), results.Add);
        }

        RunUntil(() => results.Count == 300 ? results : null, TimeSpan.FromSeconds(30));
        Assert.All(results, r => Assert.Equal(RequestStatus.Ok, r.Status));
        var commit = results[^1].Index;
        RunUntil(() => _nodes.Values.All(n => n.Status.AppliedIndex >= commit) && _nodes[1].LocalLog.FirstIndex > 150 && _nodes[2].LocalLog.FirstIndex > 150 ? this : null, TimeSpan.FromSeconds(10));
        var dir = Path.Combine(_root, "n3");
        var lastIndex = _nodes[3].LocalLog.LastIndex;
        _nodes[3].Dispose();
        _nodes.Remove(3);
        using (var f = File.Open(Path.Combine(dir, "log", "00000000000000000001.seg"), FileMode.Open, FileAccess.ReadWrite))
        {
            f.Position = 500_000; // inside a payload of the first (sealed) segment, which no peer retains
            var b = f.ReadByte();
            f.Position = 500_000;
            f.WriteByte((byte)(b ^ 0x20));
        }

        var victim = AddNode(3, [1, 2, 3], checkpointEveryEntries: 100_000);
        Assert.True(victim.IsRepairing);
        RunUntil(() => !victim.IsRepairing ? this : null, TimeSpan.FromSeconds(20));
        Assert.Equal((1L, 0L), (victim.DamageReplacedBySnapshot, victim.EntriesRepaired));
        Assert.True(victim.CheckpointIndex > 100, $"adopted checkpoint {victim.CheckpointIndex}");
        Assert.InRange(victim.LocalLog.FirstIndex, 2ul, victim.CheckpointIndex + 1); // the damaged segment went, whole, with the checkpoint
        Assert.True(victim.LocalLog.LastIndex >= lastIndex, "the entries after the checkpoint were kept, not fetched again");

        leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        Assert.Equal(RequestStatus.Ok, Committed(leader, 46, 301).Status);
        RunUntil(() => victim.Status.AppliedIndex >= leader.Status.CommitIndex ? this : null, TimeSpan.FromSeconds(10));
        for (var index = Math.Max(victim.LocalLog.FirstIndex, leader.LocalLog.FirstIndex); index <= leader.Status.CommitIndex; index++)
        {
            Assert.Equal(leader.LocalLog.Read(index).Payload.ToArray(), victim.LocalLog.Read(index).Payload.ToArray());
        }

        // The session table came with the checkpoint: a retry of an append it covers gets its original index.
        var retried = new List<AppendResult>();
        leader.Append(46, 10, AppendCommand.Encode(46, 10, null, new byte[10_000]), retried.Add);
        RunUntil(() => retried.Count == 1 ? retried : null, TimeSpan.FromSeconds(5));
        Assert.Equal(results[9].Index, retried[0].Index);

        // A restart resumes from the adopted checkpoint with nothing left to repair.
        var applied = victim.Status.AppliedIndex;
        victim.Dispose();
        _nodes.Remove(3);
        var report = StoreVerifier.Verify(dir);
        Assert.True(report.Intact, string.Join("; ", report.Problems.Concat(report.Corruptions.Select(c => c.ToString()))));
        var again = AddNode(3, [1, 2, 3], checkpointEveryEntries: 100_000);
        Assert.False(again.IsRepairing);
        RunUntil(() => again.Status.AppliedIndex >= applied ? this : null, TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void Encrypted_gossip_drops_forged_plaintext_and_stale_datagrams_adds_no_member_and_rotates_its_key_while_appends_commit()
    {
        byte[] k1 = [.. Enumerable.Range(1, 32).Select(i => (byte)i)], k2 = [.. Enumerable.Range(101, 32).Select(i => (byte)i)];
        _gossipKeys = [k1];
        foreach (var id in _nodes.Keys.ToList())
        {
            Restart(id, 100_000);
        }

        _network.Clear(); // what the plaintext incarnations still had in flight
        _gossipSent.Clear();

        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        Assert.Equal(RequestStatus.Ok, Committed(leader, 46, 1).Status);
        RunFor(TimeSpan.FromSeconds(3)); // a few protocol periods of probes
        Assert.All(_nodes.Values, n => Assert.Equal([WalrusGossip.Membership.GossipKeyring.KeyId(k1)], n.GossipKeyIds));
        Assert.All(_gossipSent, g => Assert.Equal(WalrusGossip.Membership.GossipKeyring.SealedVersion, g.Payload[0]));
        var oldDatagram = _gossipSent.Last(g => !g.Reliable).Payload;

        // A stranger joins with plaintext, with random bytes, and sealed under a key nobody holds: all dropped, no member added.
        var stranger = new WalrusGossip.Membership.MembershipNode("9", "node9", new WalrusGossip.Membership.MembershipOptions(), new Random(9), _clock.Now);
        stranger.Join(_clock.Now, ["node1"]);
        var outbound = new List<WalrusGossip.Membership.OutboundMessage>();
        stranger.DrainMessages(outbound);
        using var wrong = new WalrusGossip.Membership.GossipKeyring([new byte[32]], new Random(1));
        var target = _nodes[1];
        foreach (var m in outbound)
        {
            var reliable = m.Kind == WalrusGossip.Membership.OutboundKind.Stream;
            target.ReceiveGossip("node9", reliable, m.Payload);
            target.ReceiveGossip("node9", reliable, wrong.Seal(m.Payload));
        }

        var noise = new byte[200];
        new Random(5).NextBytes(noise);
        noise[0] = WalrusGossip.Membership.GossipKeyring.SealedVersion;
        target.ReceiveGossip("node9", false, noise);
        RunFor(TimeSpan.FromSeconds(3));
        Assert.DoesNotContain(target.GetMembers(), m => m.Name == "9");
        Assert.DoesNotContain(9ul, leader.Status.Learners);
        Assert.True(target.GossipDroppedPlaintext >= 1 && target.GossipDroppedUnauthenticated >= 2, $"{target.GossipDroppedPlaintext} plaintext, {target.GossipDroppedUnauthenticated} unauthenticated");

        // Rotation on every node, one step at a time, with appends committing throughout.
        ulong seq = 2;
        foreach (var change in new[] { GossipKeyringChange.Install, GossipKeyringChange.Use, GossipKeyringChange.Remove })
        {
            foreach (var node in _nodes.Values)
            {
                Assert.Equal(RequestStatus.Ok, node.ChangeGossipKeyring(change, change == GossipKeyringChange.Remove ? k1 : k2).Status);
                Assert.Equal(RequestStatus.Ok, Committed(leader, 46, seq++).Status);
            }
        }

        Assert.All(_nodes.Values, n => Assert.Equal([WalrusGossip.Membership.GossipKeyring.KeyId(k2)], n.GossipKeyIds));
        Assert.Equal(RequestStatus.InvalidArgument, target.ChangeGossipKeyring(GossipKeyringChange.Remove, k2).Status); // the primary
        Assert.Equal(RequestStatus.InvalidArgument, target.ChangeGossipKeyring(GossipKeyringChange.Use, k1).Status); // removed
        var before = target.GossipDroppedUnauthenticated;
        target.ReceiveGossip("node2", false, oldDatagram); // valid under the removed key: stale
        Assert.Equal(before + 1, target.GossipDroppedUnauthenticated);
        RunFor(TimeSpan.FromSeconds(5));
        Assert.All(_nodes.Values, n => Assert.Equal(3, n.GetMembers().Count(m => m.State == WalrusGossip.Membership.MemberState.Alive)));

        // The keyring survives a restart (the configured key k1 no longer applies).
        Restart(target.Id, 100_000);
        Assert.Equal([WalrusGossip.Membership.GossipKeyring.KeyId(k2)], _nodes[target.Id].GossipKeyIds);
        Assert.Equal(RequestStatus.Ok, Committed(RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10)), 46, seq).Status);
    }

    [Fact]
    public void A_follower_entry_rewritten_with_a_valid_checksum_is_found_by_the_consistency_check_on_demand_and_periodically()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var results = new List<AppendResult>();
        for (ulong seq = 1; seq <= 150; seq++)
        {
            leader.Append(43, seq, AppendCommand.Encode(43, seq, null, new byte[10_000]), results.Add);
        }

        RunUntil(() => results.Count == 150 ? results : null, TimeSpan.FromSeconds(30));
        var commit = leader.Status.CommitIndex;
        RunUntil(() => _nodes.Values.All(n => n.Status.AppliedIndex >= commit) ? this : null, TimeSpan.FromSeconds(10));

        // Correct replicas agree.
        var clean = CheckConsistency(leader, 0, 0);
        Assert.Equal(RequestStatus.Ok, clean.Status);
        Assert.All(clean.Report!.Peers, p => Assert.Equal(ConsistencyOutcome.Match, p.Outcome));
        Assert.Equal(commit, clean.Report.LastIndex);

        // A follower's record in its sealed first segment gets a different payload byte and a matching CRC while it is stopped.
        var victim = _nodes.Values.First(n => n != leader);
        var id = victim.Id;
        var dir = Path.Combine(_root, $"n{id}");
        victim.Dispose();
        _nodes.Remove(id);
        var target = results[20].Index;
        var segment = Path.Combine(dir, "log", "00000000000000000001.seg");
        var bytes = File.ReadAllBytes(segment);
        Assert.NotNull(WalrusGossip.Storage.Records.SilentCorruption.FlipPayloadBit(bytes, target));
        File.WriteAllBytes(segment, bytes);
        Assert.True(StoreVerifier.Verify(dir).Intact); // no checksum can see it
        var restarted = AddNode(id, [1, 2, 3]);
        Assert.False(restarted.IsRepairing);
        RunUntil(() => restarted.Status.AppliedIndex >= commit ? this : null, TimeSpan.FromSeconds(10));

        var found = CheckConsistency(leader, 0, 0);
        var line = Assert.Single(found.Report!.Peers, p => p.PeerId == id);
        Assert.Equal(ConsistencyOutcome.Mismatch, line.Outcome);
        Assert.InRange(target, line.FirstIndex, line.LastIndex);
        Assert.NotEqual(line.LeaderHash, line.PeerHash);
        Assert.All(found.Report.Peers.Where(p => p.PeerId != id), p => Assert.Equal(ConsistencyOutcome.Match, p.Outcome));
        Assert.True(found.Report.HasMismatch);
        Assert.Equal(line, leader.LastConsistencyMismatch);

        // A range that holds the damage only is named as precisely as the operator asks; one beside it matches.
        Assert.Equal(ConsistencyOutcome.Mismatch, CheckConsistency(leader, target, target).Report!.Peers.Single(p => p.PeerId == id).Outcome);
        Assert.Equal(ConsistencyOutcome.Match, CheckConsistency(leader, target + 1, commit).Report!.Peers.Single(p => p.PeerId == id).Outcome);

        // The periodic round (every 30 s by default) finds it as well.
        var before = leader.ConsistencyMismatches;
        RunUntil(() => leader.ConsistencyMismatches > before ? this : null, new NodeOptions().ConsistencyCheckInterval * 2);

        // Bad requests get a typed refusal; a follower names the leader.
        Assert.Equal(RequestStatus.InvalidArgument, CheckConsistency(leader, 5, 0).Status);
        Assert.Equal(RequestStatus.InvalidArgument, CheckConsistency(leader, 9, 3).Status);
        Assert.Equal(RequestStatus.InvalidArgument, CheckConsistency(leader, 1, WalrusNode.MaxConsistencyCheckEntries + 1).Status);
        var refused = CheckConsistency(restarted, 0, 0);
        Assert.Equal((RequestStatus.NotLeader, leader.Id), (refused.Status, refused.LeaderId));

        // Garbage hash answers are ignored: a wrong-sized context, an unknown round.
        leader.ReceiveRaft(new RaftMessage { Type = RaftMessageType.HashResponse, From = id, To = leader.Id, Context = new byte[3] });
        leader.ReceiveRaft(new RaftMessage { Type = RaftMessageType.HashResponse, From = id, To = leader.Id, Context = new byte[16], Index = 1, Commit = 2 });
        Assert.Equal(RaftRole.Leader, leader.Status.Role);
    }

    [Fact]
    public void A_peer_that_has_not_replicated_the_range_or_does_not_answer_is_reported_not_counted_as_a_mismatch()
    {
        var leader = RunUntil(() => _nodes.Values.FirstOrDefault(n => n.Status.Role == RaftRole.Leader), TimeSpan.FromSeconds(10));
        var cut = _nodes.Keys.First(id => id != leader.Id);
        Assert.Equal(RequestStatus.Ok, Committed(leader, 44, 1).Status);
        RunUntil(() => _nodes[cut].Status.AppliedIndex >= leader.Status.CommitIndex ? this : null, TimeSpan.FromSeconds(5));
        _cutOff.Add(cut);
        var commit = Committed(leader, 44, 2).Index;
        var report = CheckConsistency(leader, commit, commit).Report!;
        Assert.Equal(ConsistencyOutcome.Unavailable, report.Peers.Single(p => p.PeerId == cut).Outcome);
        Assert.Equal(ConsistencyOutcome.Match, report.Peers.Single(p => p.PeerId != cut).Outcome);

        var timedOut = CheckConsistency(leader, 1, commit - 1).Report!;
        Assert.Equal(ConsistencyOutcome.NoAnswer, timedOut.Peers.Single(p => p.PeerId == cut).Outcome);
        Assert.Equal(0, leader.ConsistencyMismatches);
    }

    private ConsistencyCheckResult CheckConsistency(WalrusNode node, ulong first, ulong last)
    {
        var answers = new List<ConsistencyCheckResult>();
        node.CheckConsistency(first, last, answers.Add);
        return RunUntil(() => answers.Count == 1 ? answers : null, WalrusNode.ConsistencyCheckTimeout + TimeSpan.FromSeconds(1))[0];
    }

    private void Restart(ulong id, ulong checkpointEveryEntries, RetentionPolicy? retention = null)
    {
        _nodes[id].Dispose();
        AddNode(id, [1, 2, 3], checkpointEveryEntries, retention);
    }

    private AppendResult Append(WalrusNode node, ulong client, ulong seq)
    {
        AppendResult? result = null;
        node.Append(client, seq, AppendCommand.Encode(client, seq, null, [1]), r => result = r);
        return result!.Value;
    }

    private T RunUntil<T>(Func<T?> probe, TimeSpan limit)
        where T : class
    {
        var end = _clock.Now + limit;
        while (_clock.Now < end)
        {
            while (_network.Count > 0)
            {
                _network.Dequeue()();
            }

            if (probe() is { } found)
            {
                return found;
            }

            _clock.Now += TimeSpan.FromMilliseconds(10);
            foreach (var node in _nodes.Values)
            {
                node.Tick();
            }
        }

        throw new TimeoutException($"condition not reached within {limit} of simulated time");
    }

    /// <summary>Delivers messages and ticks every node for <paramref name="span"/> of simulated time.</summary>
    private void RunFor(TimeSpan span)
    {
        var end = _clock.Now + span;
        RunUntil<object>(() => _clock.Now >= end ? this : null, span + TimeSpan.FromMilliseconds(10));
    }

    public void Dispose()
    {
        foreach (var node in _nodes.Values)
        {
            node.Dispose();
        }

        _disk.Dispose();
        Directory.Delete(_root, recursive: true);
    }

    /// <summary>The real file system, reporting whatever free space a test sets.</summary>
    private sealed class SpaceReportingDevice(IStorageDevice inner) : IStorageDevice
    {
        public long Available { get; set; } = long.MaxValue;

        public string EngineName => inner.EngineName;

        public IDeviceFile Open(string path, DeviceOpenMode mode) => inner.Open(path, mode);

        public bool FileExists(string path) => inner.FileExists(path);

        public IReadOnlyList<string> ListFiles(string directory) => inner.ListFiles(directory);

        public void CreateDirectory(string path) => inner.CreateDirectory(path);

        public void DeleteFile(string path) => inner.DeleteFile(path);

        public void Rename(string source, string destination) => inner.Rename(source, destination);

        public void SyncDirectory(string path) => inner.SyncDirectory(path);

        public long AvailableBytes(string path) => Available;

        public DateTime LastWriteTimeUtc(string path) => inner.LastWriteTimeUtc(path);

        public IDisposable Lock(string path) => inner.Lock(path);
    }

    private sealed class ManualClock : INodeClock
    {
        public TimeSpan Now { get; set; }
    }

    private sealed class Transport(NodeClusterTests cluster, string from) : INodeTransport
    {
        public void SendRaft(RaftMessage message) =>
            cluster._network.Enqueue(() =>
            {
                if (!cluster._cutOff.Contains(message.From) && !cluster._cutOff.Contains(message.To) && cluster._drop?.Invoke(message) != true
                    && cluster._nodes.TryGetValue(message.To, out var to))
                {
                    to.ReceiveRaft(message);
                }
            });

        public bool IsPeerCertified(ulong nodeId) => !cluster._uncertified.Contains(nodeId);

        public void SendGossip(string address, bool reliable, byte[] payload) =>
            cluster._network.Enqueue(() =>
            {
                cluster._gossipSent.Add((address, reliable, payload));
                Deliver(address, reliable, payload);
            });

        private void Deliver(string address, bool reliable, byte[] payload)
        {
            if (cluster._nodes.TryGetValue(ulong.Parse(address.AsSpan(4), System.Globalization.CultureInfo.InvariantCulture), out var to))
            {
                to.ReceiveGossip(from, reliable, payload);
            }
        }
    }
}
