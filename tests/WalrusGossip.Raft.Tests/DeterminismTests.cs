using WalrusGossip.Raft.Tests.Support;

namespace WalrusGossip.Raft.Tests;

public sealed class DeterminismTests
{
    [Fact]
    public void The_same_seed_produces_the_same_message_trace()
    {
        static string Trace(ulong seed)
        {
            var cluster = new TestCluster(5, seed: seed);
            cluster.TickAll(40);
            var leader = cluster.Leaders().Single();
            cluster.Propose(leader.Id, "x");
            return string.Join("\n", cluster.Sent);
        }

        Assert.Equal(Trace(7), Trace(7));
        Assert.NotEqual(Trace(7), Trace(8));
    }

    [Fact]
    public void SeededRaftRandom_is_stable_across_runs_and_platforms()
    {
        var random = new SeededRaftRandom(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, random.NextUInt64());
    }
}
