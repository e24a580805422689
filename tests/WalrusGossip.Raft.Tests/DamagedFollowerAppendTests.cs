namespace WalrusGossip.Raft.Tests;

/// <summary>
/// A follower with damaged stored entries (protocol-aware repair) defers a conflicting-suffix cut above the damage
/// until the damage is repaired: <see cref="RaftLog.WouldTruncateAbove"/> names exactly the appends that would cut
/// stored entries after the first damaged index.
/// </summary>
public class DamagedFollowerAppendTests
{
    private static LogEntry E(ulong index, ulong term) => new(index, term, EntryType.Normal, new byte[] { (byte)index });

    private static RaftLog LogWithTerms(params ulong[] terms)
    {
        var storage = new MemoryRaftLogStorage();
        storage.Append(terms.Select((t, i) => E((ulong)i + 1, t)).ToList());
        return new RaftLog(storage, commit: 0, applied: 0);
    }

    [Fact]
    public void Only_a_cut_of_stored_entries_above_the_damaged_index_is_deferred()
    {
        var log = LogWithTerms(1, 1, 1, 2, 2); // stored 1..5

        // The leader's entry 4 has term 3: a cut at 4.
        IReadOnlyList<LogEntry> conflictAt4 = [E(4, 3), E(5, 3)];
        Assert.True(log.WouldTruncateAbove(3, 1, conflictAt4, damagedIndex: 2));
        Assert.False(log.WouldTruncateAbove(3, 1, conflictAt4, damagedIndex: 4));  // the cut removes the damage itself
        Assert.False(log.WouldTruncateAbove(3, 1, conflictAt4, damagedIndex: 0));  // nothing damaged
        Assert.False(log.WouldTruncateAbove(3, 9, conflictAt4, damagedIndex: 2));  // the prefix does not match: a reject anyway

        // Matching entries and new entries past the stored end cut nothing.
        Assert.False(log.WouldTruncateAbove(3, 1, [E(4, 2), E(5, 2), E(6, 3)], damagedIndex: 2));
        Assert.False(log.WouldTruncateAbove(5, 2, [E(6, 3)], damagedIndex: 2));
    }
}
