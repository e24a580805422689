namespace WalrusGossip.Raft.Tests;

public sealed class ClusterConfigDemoteTests
{
    [Fact]
    public void Demote_moves_a_voter_to_the_learners_and_refuses_learners_unknown_ids_and_the_last_voter()
    {
        var config = ClusterConfig.Create([1, 2, 3], [4]);
        var demoted = config.TryApply(new ConfigChange(ConfigChangeType.Demote, 2));
        Assert.NotNull(demoted);
        Assert.Equal([1ul, 3], demoted.Voters);
        Assert.Equal([2ul, 4], demoted.Learners);
        Assert.Null(config.TryApply(new ConfigChange(ConfigChangeType.Demote, 4)));
        Assert.Null(config.TryApply(new ConfigChange(ConfigChangeType.Demote, 9)));
        Assert.Null(ClusterConfig.Create([1]).TryApply(new ConfigChange(ConfigChangeType.Demote, 1)));
        var promoted = demoted.TryApply(new ConfigChange(ConfigChangeType.AddVoter, 2));
        Assert.Equal([1ul, 2, 3], promoted!.Voters);
    }
}
