using System.Globalization;
using WalrusGossip.Membership;
using WalrusGossip.Node;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// Gossip security under faults (issue 18). Every node seals its gossip with AES-GCM under the run's keyring, as an
/// agent with <c>Gossip:Keys</c> does. In about a third of the chaos windows an operator rotates the key the way the
/// runbook says (install the new key on every agent, then use it, then remove the old one, a few seconds apart); a node
/// that was down for a step is brought to the current keyring when it starts, as an operator re-running the step
/// would. In every window an impostor (node 99, which holds no node certificate) sends a genuine gossip
/// datagram announcing itself: in plaintext, under a key nobody holds, under a key the rotation removed, or under the
/// current key (a leaked key). The first three must be dropped; the last may put the impostor in the membership view,
/// but the checker (<c>certified-members</c>) fails the run if any configuration ever names it.
/// </summary>
internal sealed partial class ClusterSimulation
{
    /// <summary>Node id of the impostor: above every simulated node, so the network delivers nothing to it.</summary>
    private const ulong ImpostorId = 99;

    /// <summary>Keyring and impostor choices come from their own generator, so the fault, operator and security streams are unchanged.</summary>
    private Random? _gossipOperator;
    private List<byte[]>? _keyring;
    private readonly List<byte[]> _removedKeys = [];
    private bool _rotating;
    private byte[]? _impostorDatagram;

    private Random GossipOperator => _gossipOperator ??= new Random(unchecked((int)((_options.Seed * 0x1B873593L) ^ 0x6055_1E55)));

    /// <summary>The keyring every node should hold now, primary first.</summary>
    private List<byte[]> Keyring => _keyring ??= [NewKey()];

    private byte[] NewKey()
    {
        var key = new byte[32];
        GossipOperator.NextBytes(key);
        return key;
    }

    /// <summary>A seeded nonce source per process incarnation: reproducible, distinct across restarts, and not drawn from the node's random.</summary>
    private Random NonceSource(SimNode node) =>
        new(unchecked((int)((_options.Seed * 0x5851F42DL) ^ (node.Id * 0x9E3779B1L) ^ (node.Incarnation * 0x85EBCA6BL))));

    /// <summary>Brings a started node's persisted keyring to the current one (install what it lacks, use the primary, remove the rest).</summary>
    private void ReconcileKeyring(SimNode node)
    {
        var keys = Keyring.ToList();
        var removed = _removedKeys.ToList();
        node.Loop!.Post(n =>
        {
            foreach (var key in keys)
            {
                n.ChangeGossipKeyring(GossipKeyringChange.Install, key);
            }

            n.ChangeGossipKeyring(GossipKeyringChange.Use, keys[0]);
            foreach (var key in removed)
            {
                n.ChangeGossipKeyring(GossipKeyringChange.Remove, key);
            }
        });
    }

    /// <summary>Called at the start of each chaos window.</summary>
    private void MaybeGossipSecurityEvents()
    {
        var random = GossipOperator;
        if (!_rotating && random.Next(3) == 0)
        {
            _rotating = true;
            var key = NewKey();
            var step = TimeSpan.FromMilliseconds(1_000 + random.Next(4_000));
            After(step, "keyring install", () =>
            {
                Keyring.Add(key);
                ApplyKeyring(GossipKeyringChange.Install, key);
                After(step, "keyring use", () =>
                {
                    var old = Keyring[0];
                    Keyring.Remove(key);
                    Keyring.Insert(0, key);
                    ApplyKeyring(GossipKeyringChange.Use, key);
                    After(step, "keyring remove", () =>
                    {
                        Keyring.Remove(old);
                        _removedKeys.Add(old);
                        ApplyKeyring(GossipKeyringChange.Remove, old);
                        Stats.KeyRotations++;
                        _rotating = false;
                    });
                });
            });
        }

        var kind = random.Next(4);
        var target = 1 + random.Next(_nodes.Count);
        After(TimeSpan.FromMilliseconds(200 + random.Next(8_000)), "impostor gossip", () => SendImpostorDatagram(kind, target));
    }

    private void ApplyKeyring(GossipKeyringChange change, byte[] key)
    {
        Trace(string.Create(CultureInfo.InvariantCulture, $"operator: keyring {change} {GossipKeyring.KeyId(key)}"));
        foreach (var node in _nodes)
        {
            if (node is { Up: true, Loop: { } loop })
            {
                loop.Post(n => n.ChangeGossipKeyring(change, key));
                ScheduleRun(node, Now);
            }
        }
    }

    /// <summary>Kind 0: plaintext; 1: a key nobody holds; 2: a key a rotation removed (plaintext when none yet); 3: the current primary.</summary>
    private void SendImpostorDatagram(int kind, int target)
    {
        if (_epilogue || _nodes[target - 1] is not { Up: true } node)
        {
            return;
        }

        var datagram = _impostorDatagram ??= ImpostorDatagram();
        byte[]? key = kind switch
        {
            1 => new byte[32],
            2 when _removedKeys.Count > 0 => _removedKeys[^1],
            3 => Keyring[0],
            _ => null,
        };
        byte[] bytes;
        if (key is null)
        {
            bytes = datagram;
        }
        else
        {
            using var keyring = new GossipKeyring([key], new Random(kind));
            bytes = keyring.Seal(datagram);
        }

        Stats.ImpostorDatagrams++;
        Trace(string.Create(CultureInfo.InvariantCulture, $"impostor n{ImpostorId} gossip to n{target}: {(key is null ? "plaintext" : kind == 3 ? "current key" : "wrong key")}"));
        Schedule(new SimEvent { Kind = EventKind.Gossip, Node = target, Incarnation = node.Incarnation, From = "n" + ImpostorId.ToString(CultureInfo.InvariantCulture), Reliable = false, Payload = bytes }, Now + ClientHop());
    }

    /// <summary>
    /// A genuine datagram of the impostor: node 99 and a helper (98) join each other in memory, and 99's first probe
    /// (which carries its own alive announcement) is taken. Deterministic: the membership layer's random is seeded.
    /// </summary>
    private static byte[] ImpostorDatagram()
    {
        var now = TimeSpan.Zero;
        var impostor = new MembershipNode("99", "n99", new MembershipOptions(), new Random(99), now);
        var helper = new MembershipNode("98", "n98", new MembershipOptions(), new Random(98), now);
        impostor.Join(now, ["n98"]);
        var outbound = new List<OutboundMessage>();
        for (var step = 0; step < 200; step++, now += TimeSpan.FromMilliseconds(100))
        {
            foreach (var (from, to, fromAddress) in new[] { (impostor, helper, "n99"), (helper, impostor, "n98") })
            {
                from.Tick(now);
                outbound.Clear();
                from.DrainMessages(outbound);
                foreach (var m in outbound)
                {
                    if (m.Kind == OutboundKind.Stream)
                    {
                        to.ReceiveStream(now, fromAddress, m.Payload);
                    }
                    else if (from == impostor)
                    {
                        return m.Payload;
                    }
                    else
                    {
                        to.ReceiveDatagram(now, fromAddress, m.Payload);
                    }
                }
            }
        }

        throw new InvalidOperationException("the impostor sent no datagram");
    }
}
