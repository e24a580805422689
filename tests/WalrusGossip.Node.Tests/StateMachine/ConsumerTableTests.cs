using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests;

/// <summary>The replicated consumer positions (issue 19): the floor only rises, changes decode or are ignored alike, and a snapshot carries the table.</summary>
public sealed class ConsumerTableTests
{
    private static LogEntry Change(ulong index, ConsumerChange change) => new(index, 1, EntryType.Consumer, change.Encode());

    [Fact]
    public void A_consumers_floor_only_rises_and_delete_forgets_it()
    {
        var sm = new LogStateMachine();
        sm.Apply(Change(1, new ConsumerChange(ConsumerChangeKind.Create, "orders", "billing", 5_000)));
        sm.Apply(Change(2, new ConsumerChange(ConsumerChangeKind.Ack, "orders", "billing", 10)));
        sm.Apply(Change(3, new ConsumerChange(ConsumerChangeKind.Ack, "orders", "billing", 7))); // an older leader's, applied late
        sm.Apply(Change(4, new ConsumerChange(ConsumerChangeKind.Ack, "orders", "nobody", 99)));
        Assert.Equal(new ConsumerState("orders", "billing", 10, TimeSpan.FromSeconds(5), 1), sm.Consumers.Find("orders", "billing"));
        Assert.Null(sm.Consumers.Find("orders", "nobody"));

        sm.Apply(Change(5, new ConsumerChange(ConsumerChangeKind.Create, "orders", "billing", 9_000))); // idempotent: keeps the floor
        Assert.Equal(10ul, sm.Consumers.Find("orders", "billing")!.AckFloor);
        Assert.Equal(TimeSpan.FromSeconds(9), sm.Consumers.Find("orders", "billing")!.AckTimeout);

        var restored = new LogStateMachine();
        restored.Restore(sm.EncodeSnapshot());
        Assert.Equal(sm.Consumers.Describe(), restored.Consumers.Describe());

        sm.Apply(Change(6, new ConsumerChange(ConsumerChangeKind.Delete, "orders", "billing")));
        Assert.Equal(0, sm.Consumers.Count);
    }

    [Fact]
    public void Invalid_changes_are_refused_and_garbage_payloads_are_ignored_alike_without_throwing()
    {
        Assert.NotNull(new ConsumerChange(ConsumerChangeKind.Create, "orders", "bad name!", 1_000).Validate());
        Assert.NotNull(new ConsumerChange(ConsumerChangeKind.Create, "orders", "ok", 10).Validate()); // ack timeout below 100 ms
        Assert.NotNull(new ConsumerChange(ConsumerChangeKind.Create, "", "ok", 1_000).Validate());
        var random = new Random(19);
        var sm = new LogStateMachine();
        for (ulong i = 1; i <= 2_000; i++)
        {
            var garbage = new byte[random.Next(0, 60)];
            random.NextBytes(garbage);
            if (garbage.Length > 4 && i % 2 == 0)
            {
                garbage[0] = 1; // a valid version, then nonsense
            }

            Assert.False(ConsumerChange.TryDecode(garbage, out _) && garbage.Length < 16);
            sm.Apply(new LogEntry(i, 1, EntryType.Consumer, garbage));
        }

        Assert.Equal(0, sm.Consumers.Count);
        Assert.Equal(2_000ul, sm.AppliedIndex);
    }
}
