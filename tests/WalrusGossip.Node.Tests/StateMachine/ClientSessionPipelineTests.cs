namespace WalrusGossip.Node.Tests;

public class ClientSessionPipelineTests
{
    [Fact]
    public void A_pipelined_sequence_applied_after_a_higher_one_is_new_until_it_leaves_the_window()
    {
        var table = new ClientSessionTable(maxClients: 10, maxSequencesPerClient: 4);
        table.Record(1, 5, 100);
        Assert.Equal(SessionCheck.New, table.Check(1, 3, out _)); // sequence 3 was never applied: pipelined, arrives late
        table.Record(1, 3, 101);
        Assert.Equal(SessionCheck.Duplicate, table.Check(1, 3, out var index));
        Assert.Equal(101ul, index);
        for (ulong s = 6; s <= 9; s++)
        {
            table.Record(1, s, 100 + s);
        }

        Assert.Equal(SessionCheck.Expired, table.Check(1, 3, out _)); // evicted: its answer is gone
        Assert.Equal(SessionCheck.Expired, table.Check(1, 4, out _)); // below the evicted high-water mark: unknown
        Assert.Equal(SessionCheck.New, table.Check(1, 10, out _));
    }
}
