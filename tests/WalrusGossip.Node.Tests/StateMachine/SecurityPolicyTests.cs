using System.Buffers.Binary;
using WalrusGossip.Raft;

namespace WalrusGossip.Node.Tests.StateMachine;

/// <summary>
/// The replicated authorization state: Security entries applied in log order, the same decisions on every replica,
/// carried by state-machine snapshots (version 2; version 1 snapshots restore with an empty policy), and malformed
/// payloads ignored without an exception.
/// </summary>
public sealed class SecurityPolicyTests
{
    private static LogEntry Entry(ulong index, SecurityChange change) => new(index, 1, EntryType.Security, change.Encode());

    private static LogStateMachine Applied(params SecurityChange[] changes)
    {
        var machine = new LogStateMachine();
        for (var i = 0; i < changes.Length; i++)
        {
            machine.Apply(Entry((ulong)i + 1, changes[i]));
        }

        return machine;
    }

    [Fact]
    public void Roles_tokens_and_grants_decide_what_a_caller_may_do()
    {
        var hash = SecurityPolicy.HashSecret("wt_secret");
        var machine = Applied(
            new SecurityChange(SecurityChangeKind.PutRole, "reader", Permission.Read | Permission.Tail),
            new SecurityChange(SecurityChangeKind.PutRole, "orders", Permission.Append, "orders."),
            new SecurityChange(SecurityChangeKind.PutToken, "dash", SecretHash: hash, Roles: ["reader"]),
            new SecurityChange(SecurityChangeKind.Grant, "alice", Roles: ["orders"]));
        var policy = machine.Security;

        Assert.Equal("dash", policy.FindToken(hash)!.Name);
        Assert.Null(policy.FindToken(SecurityPolicy.HashSecret("wt_other")));
        Assert.True(policy.Allows(["reader"], Permission.Read, null));
        Assert.False(policy.Allows(["reader"], Permission.Append, null));
        Assert.True(policy.Allows(policy.RolesOf("alice"), Permission.Append, "orders.eu"));
        Assert.False(policy.Allows(policy.RolesOf("alice"), Permission.Append, "billing"));
        Assert.False(policy.Allows(policy.RolesOf("alice"), Permission.Append, null)); // a stream-limited role never covers untagged entries
        Assert.True(policy.Allows([SecurityPolicy.AdminRole], Permission.Admin, null));
        Assert.False(policy.Allows(["nosuchrole"], Permission.Read, null));
        Assert.Empty(policy.RolesOf("bob"));

        machine.Apply(Entry(5, new SecurityChange(SecurityChangeKind.DeleteToken, "dash")));
        machine.Apply(Entry(6, new SecurityChange(SecurityChangeKind.Revoke, "alice", Roles: ["orders"])));
        Assert.Null(machine.Security.FindToken(hash));
        Assert.Empty(machine.Security.RolesOf("alice"));
    }

    [Fact]
    public void A_snapshot_carries_the_policy_and_a_version_1_snapshot_restores_with_none()
    {
        var machine = Applied(
            new SecurityChange(SecurityChangeKind.PutRole, "reader", Permission.Read),
            new SecurityChange(SecurityChangeKind.PutToken, "dash", SecretHash: SecurityPolicy.HashSecret("t"), Roles: ["reader"]));
        var snapshot = machine.EncodeSnapshot();
        var restored = new LogStateMachine();
        restored.Restore(snapshot);
        Assert.Equal(machine.Security.Digest(), restored.Security.Digest());
        Assert.Equal("dash", Assert.Single(restored.Security.Tokens).Name);

        // Versions 1 (before the policy existed), 2 (before the stream index) and 3 (before consumers): the same layout without those sections.
        var empty = new LogStateMachine();
        empty.Apply(new LogEntry(1, 1, EntryType.NoOp, ReadOnlyMemory<byte>.Empty));
        var v4 = empty.EncodeSnapshot(StateFormat.Legacy);
        foreach (var (version, drop) in new[] { (1u, 16), (2u, 12), (3u, 8) }) // the policy's count (4 bytes), the stream count (4), the consumer count (4), the CRC (4)
        {
            var body = v4[..^drop].ToArray();
            BinaryPrimitives.WriteUInt32LittleEndian(body.AsSpan(4), version);
            var withCrc = new byte[body.Length + 4];
            body.CopyTo(withCrc, 0);
            BinaryPrimitives.WriteUInt32LittleEndian(withCrc.AsSpan(body.Length), WalrusGossip.Storage.Records.Crc32C.Compute(body));
            var old = Applied(new SecurityChange(SecurityChangeKind.PutRole, "x", Permission.Read));
            old.Restore(withCrc);
            Assert.Empty(old.Security.Roles);
            Assert.Equal(0, old.Streams.Count);
            Assert.Equal(1UL, old.AppliedIndex);
        }
    }

    [Fact]
    public void Malformed_security_payloads_are_ignored_alike_and_never_throw()
    {
        var random = new Random(18);
        var machine = new LogStateMachine();
        for (var i = 1; i <= 2000; i++)
        {
            var garbage = new byte[random.Next(0, 80)];
            random.NextBytes(garbage);
            if (garbage.Length >= 4 && i % 2 == 0)
            {
                garbage[0] = 1; // a valid version, then nonsense
            }

            Assert.False(SecurityChange.TryDecode(garbage, out _) && garbage.Length < 9);
            machine.Apply(new LogEntry((ulong)i, 1, EntryType.Security, garbage));
        }

        var valid = new SecurityChange(SecurityChangeKind.PutRole, "reader", Permission.Read).Encode();
        for (var cut = 0; cut < valid.Length; cut++)
        {
            Assert.False(SecurityChange.TryDecode(valid.AsSpan(0, cut), out _));
        }

        Assert.True(SecurityChange.TryDecode(valid, out var decoded));
        Assert.Equal("reader", decoded!.Name);
        Assert.NotNull(new SecurityChange(SecurityChangeKind.PutRole, "bad name!", Permission.Read).Validate());
        Assert.NotNull(new SecurityChange(SecurityChangeKind.PutToken, "t", SecretHash: new byte[5]).Validate());
    }
}
