namespace WalrusGossip.Node.Tests;

public sealed class ClientSessionTableTests
{
    [Fact]
    public void A_retried_request_is_answered_with_its_original_index()
    {
        var table = new ClientSessionTable();
        Assert.Equal(SessionCheck.New, table.Check(7, 1, out _));
        table.Record(7, 1, 100);

        Assert.Equal(SessionCheck.Duplicate, table.Check(7, 1, out var original));
        Assert.Equal(100UL, original);
        Assert.Equal(SessionCheck.New, table.Check(7, 2, out _));
    }

    [Fact]
    public void Sequences_older_than_the_remembered_window_are_reported_expired()
    {
        var table = new ClientSessionTable(maxClients: 10, maxSequencesPerClient: 2);
        table.Record(7, 1, 10);
        table.Record(7, 2, 11);
        table.Record(7, 3, 12);

        Assert.Equal(SessionCheck.Expired, table.Check(7, 1, out _));
        Assert.Equal(SessionCheck.Duplicate, table.Check(7, 2, out var index));
        Assert.Equal(11UL, index);
    }

    [Fact]
    public void The_least_recently_active_client_is_evicted_first_deterministically()
    {
        var table = new ClientSessionTable(maxClients: 2);
        table.Record(1, 1, 10);
        table.Record(2, 1, 11);
        table.Record(1, 2, 12);
        table.Record(3, 1, 13);

        Assert.Equal(2, table.Count);
        Assert.Equal(SessionCheck.New, table.Check(2, 1, out _));
        Assert.Equal(SessionCheck.Duplicate, table.Check(1, 2, out _));
        Assert.Equal(SessionCheck.Duplicate, table.Check(3, 1, out _));
    }

    [Fact]
    public void An_exported_table_rebuilds_identically()
    {
        var table = new ClientSessionTable(maxClients: 3, maxSequencesPerClient: 2);
        for (ulong i = 1; i <= 20; i++)
        {
            table.Record(i % 4, i, i + 100);
        }

        var copy = new ClientSessionTable(maxClients: 3, maxSequencesPerClient: 2);
        foreach (var (client, sequence, index) in table.Export())
        {
            copy.Record(client, sequence, index);
        }

        Assert.Equal(table.Export(), copy.Export());
    }

    [Fact]
    public void Recording_out_of_log_order_is_refused()
    {
        var table = new ClientSessionTable();
        table.Record(1, 2, 50);
        Assert.Throws<ArgumentOutOfRangeException>(() => table.Record(1, 3, 49));
    }

    [Fact]
    public void Acknowledged_sequences_are_forgotten_and_a_late_retry_of_one_is_expired()
    {
        var table = new ClientSessionTable(maxClients: 10, maxSequencesPerClient: 1024);
        for (ulong seq = 1; seq <= 100; seq++)
        {
            table.Record(7, seq, seq + 10);
        }

        table.ForgetBelow(7, 100);

        Assert.Equal([(7ul, 100ul, 110ul)], table.Export());
        Assert.Equal(SessionCheck.Duplicate, table.Check(7, 100, out var original));
        Assert.Equal(110ul, original);
        Assert.Equal(SessionCheck.Expired, table.Check(7, 99, out _));
        Assert.Equal(SessionCheck.New, table.Check(7, 101, out _));
        table.ForgetBelow(8, 50); // unknown session: nothing to do
        table.ForgetBelow(7, 1);  // nothing below 1
        Assert.Single(table.Export());
    }
}
