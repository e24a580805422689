using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class MembershipTests
{
    [Fact]
    public void A_new_node_joins_as_learner_catches_up_and_is_promoted_to_voter()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.Propose(1, "before join");
        var joiner = cluster.AddNode(4);

        Assert.True(leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 4)).IsAccepted);
        cluster.TickAll(2);
        Assert.True(joiner.Status.Config.IsLearner(4));
        Assert.Equal(leader.Status.Commit, joiner.Status.Commit);

        Assert.True(leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddVoter, 4)).IsAccepted);
        cluster.TickAll(2);
        Assert.All(cluster.Nodes.Values, n => Assert.Equal([1UL, 2, 3, 4], n.Status.Config.Voters));
        Assert.Equal(3, leader.Status.Config.Quorum);
    }

    [Fact]
    public void A_second_change_is_refused_until_the_first_commits()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        cluster.AddNode(4);
        cluster.AddNode(5);

        Assert.True(leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 4)).IsAccepted);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 5)).Status);
        cluster.Stabilize();
        Assert.True(leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 5)).IsAccepted);
    }

    [Fact]
    public void A_leader_that_has_not_committed_in_its_term_refuses_changes()
    {
        var cluster = new TestCluster(3);
        cluster.Filter = m => !(m.Type == RaftMessageType.Append && m.Entries.Count > 0);
        var leader = cluster.Elect(1);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 4)).Status);
    }

    [Fact]
    public void Invalid_changes_are_refused()
    {
        var cluster = new TestCluster(1);
        var leader = cluster.Elect(1);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.Remove, 1)).Status);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddVoter, 1)).Status);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.Remove, 7)).Status);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 0)).Status);
        Assert.Equal(ProposalStatus.ConfigChangeRefused, leader.Raft.ProposeConfigChange(new ConfigChange((ConfigChangeType)42, 3)).Status);
    }

    [Fact]
    public void A_removed_leader_steps_down_once_its_removal_commits_and_the_rest_elect_a_leader()
    {
        var cluster = new TestCluster(3);
        var leader = cluster.Elect(1);
        Assert.True(leader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.Remove, 1)).IsAccepted);
        cluster.Stabilize();

        Assert.Equal(RaftRole.Follower, leader.Status.Role);
        cluster.TickAll(40);
        var newLeader = Assert.Single(cluster.Leaders());
        Assert.NotEqual(1UL, newLeader.Id);
        Assert.Equal([2UL, 3], newLeader.Status.Config.Voters);
        Assert.True(cluster.Propose(newLeader.Id, "two voters").IsAccepted);
        Assert.Equal(newLeader.Status.LastIndex, cluster[newLeader.Id == 2 ? 3UL : 2UL].Status.Commit);
    }

    [Fact]
    public void An_uncommitted_configuration_overwritten_by_a_new_leader_is_rolled_back()
    {
        var cluster = new TestCluster(5);
        var oldLeader = cluster.Elect(1);
        cluster.Cut(1, 3);
        cluster.Cut(1, 4);
        cluster.Cut(1, 5);
        Assert.True(oldLeader.Raft.ProposeConfigChange(new ConfigChange(ConfigChangeType.AddLearner, 6)).IsAccepted);
        cluster.Stabilize();

        // Node 2 adopted the configuration as soon as the entry reached its log, committed or not (§4.1).
        var follower = cluster[2];
        Assert.True(follower.Status.Config.IsLearner(6));
        var configIndex = follower.Status.LastIndex;
        Assert.True(configIndex > oldLeader.Status.Commit);

        // Nodes 3-5 elect a leader that never saw the entry; it overwrites node 2's log.
        cluster.Isolate(1);
        cluster.Cut(2, 3);
        cluster.Cut(2, 4);
        cluster.Cut(2, 5);
        cluster.TickAll(40);
        var newLeader = cluster.Leaders().Single(l => l.Id >= 3);
        cluster.Heal();
        cluster.Isolate(1);
        cluster.TickAll(3);

        Assert.Equal(newLeader.Id, follower.Status.Leader);
        Assert.NotEqual(EntryType.ConfigChange, follower.EntryAt(configIndex)!.Value.Type);
        Assert.Equal([1UL, 2, 3, 4, 5], follower.Status.Config.Voters);
        Assert.Empty(follower.Status.Config.Learners);
    }

    [Fact]
    public void Membership_changes_under_partitions_never_allow_two_leaders_in_one_term()
    {
        for (ulong seed = 1; seed <= 30; seed++)
        {
            var cluster = new TestCluster(3, seed: seed);
            cluster.AddNode(4);
            cluster.AddNode(5);
            var checker = new SafetyChecker(1);
            var random = new SeededRaftRandom(seed);
            var changes = new[]
            {
                new ConfigChange(ConfigChangeType.AddLearner, 4), new ConfigChange(ConfigChangeType.AddVoter, 4),
                new ConfigChange(ConfigChangeType.AddLearner, 5), new ConfigChange(ConfigChangeType.AddVoter, 5),
                new ConfigChange(ConfigChangeType.Remove, 1), new ConfigChange(ConfigChangeType.Remove, 2),
            };
            var next = 0;
            for (var round = 0; round < 300 && next < changes.Length; round++)
            {
                var leader = cluster.Leaders().FirstOrDefault();
                if (leader is not null && leader.Raft.ProposeConfigChange(changes[next]).IsAccepted)
                {
                    next++;
                }

                if (random.Next(10) == 0)
                {
                    cluster.Heal();
                    cluster.Isolate((ulong)random.Next(5) + 1);
                }
                else if (random.Next(5) == 0)
                {
                    cluster.Heal();
                }

                cluster.TickAll();
                checker.Check(cluster, $"seed {seed} round {round}");
            }

            Assert.Equal(changes.Length, next);
        }
    }
}
