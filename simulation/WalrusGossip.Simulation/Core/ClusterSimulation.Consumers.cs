using System.Globalization;
using WalrusGossip.Node;
using WalrusGossip.Raft;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// A durable consumer under faults (issue 19). Early in the run an operator creates consumer <c>c1</c> on stream
/// <c>sm0</c> (ack timeout 2 s) at the leader. Two instances then fetch from whichever node leads, every 100-300 ms, 1-8
/// entries at a time, and after 50-300 ms of "work" acknowledge the highest sequence they were given (cumulative) at
/// the node leading then; one batch in ten is not acknowledged (a later cumulative ack of the same instance covers it),
/// and one poll in fifty the instance dies and a new incarnation starts 1-4 s later, so the leader delivers what the
/// dead one held again after the ack timeout. The checker holds every delivery to the committed entry of that sequence, first
/// deliveries of one leadership to ascending sequences, the replicated ack floor to deliveries (nothing at or below it
/// was never delivered, unless retention removed it first) and never backwards.
/// </summary>
internal sealed partial class ClusterSimulation
{
    private const string ConsumerStream = "sm0";
    private const string ConsumerName = "c1";

    /// <summary>The consumer's choices come from their own generator, so the other streams of the run are unchanged.</summary>
    private Random? _consumerRandom;

    private readonly ulong[] _instanceIncarnation = [0, 0];

    private Random ConsumerRandom => _consumerRandom ??= new Random(unchecked((int)((_options.Seed * 0x68E31DA4L) ^ 0x0C0B_5E11)));

    private void StartConsumers()
    {
        After(TimeSpan.FromSeconds(3), "operator creates consumer", () => CreateConsumer(attempts: 40));
        for (ulong instance = 1; instance <= 2; instance++)
        {
            var id = instance;
            After(TimeSpan.FromMilliseconds(3_500 + ConsumerRandom.Next(500)), $"consumer instance {id} starts", () => ConsumerPoll(id));
        }
    }

    private void CreateConsumer(int attempts)
    {
        if (_epilogue || attempts == 0)
        {
            return;
        }

        if (LeaderNode() is not { } node)
        {
            After(TimeSpan.FromMilliseconds(500), "operator creates consumer (retry)", () => CreateConsumer(attempts - 1));
            return;
        }

        node.Loop!.Post(n => n.ChangeConsumer(new ConsumerChange(ConsumerChangeKind.Create, ConsumerStream, ConsumerName, 2_000), r =>
        {
            Trace($"operator: create consumer {ConsumerStream}/{ConsumerName}: {r.Status} {r.Message}");
            if (r.Status != RequestStatus.Ok)
            {
                After(TimeSpan.FromMilliseconds(500), "operator creates consumer (retry)", () => CreateConsumer(attempts - 1));
            }
        }));
        ScheduleRun(node, Now);
    }

    private void ConsumerPoll(ulong instance)
    {
        if (_epilogue)
        {
            return;
        }

        var random = ConsumerRandom;
        var next = TimeSpan.FromMilliseconds(100 + random.Next(200));
        var max = 1 + random.Next(32);
        var ackDelay = TimeSpan.FromMilliseconds(50 + random.Next(250));
        var acknowledge = random.Next(10) != 0;
        if (random.Next(50) == 0)
        {
            // The instance dies and a new one takes its place after 1-4 s: what the old one held unacknowledged is
            // delivered again once its ack timeout passes.
            _instanceIncarnation[instance - 1]++;
            var restart = TimeSpan.FromMilliseconds(1_000 + random.Next(3_000));
            Trace(string.Create(CultureInfo.InvariantCulture, $"consumer instance {instance} dies; restarts in {restart.TotalMilliseconds:0} ms"));
            After(restart, "consumer instance restarts", () => ConsumerPoll(instance));
            return;
        }

        var id = (instance * 1_000) + _instanceIncarnation[instance - 1];
        if (LeaderNode() is { } node)
        {
            node.Loop!.Post(n =>
            {
                var result = n.ConsumerFetch(ConsumerStream, ConsumerName, id, max);
                if (result.Status != RequestStatus.Ok || (result.Deliveries.Count == 0 && result.CompactedBefore == 0))
                {
                    return;
                }

                // Checked in dispatch order (two responses may cross on their way to the instances).
                _checker.ConsumerDelivered(node.Id, id, result);
                Stats.ConsumerDeliveries += result.Deliveries.Count;
                Stats.ConsumerRedeliveries += result.Deliveries.Count(d => d.DeliveryCount > 1);
                if (acknowledge && result.Deliveries.Count > 0)
                {
                    var upTo = result.Deliveries[^1].Sequence;
                    After(ClientHop() + ackDelay, "consumer ack", () => ConsumerAck(id, upTo));
                }
            });
            ScheduleRun(node, Now);
        }

        After(next, "consumer poll", () => ConsumerPoll(instance));
    }

    private void ConsumerAck(ulong instance, ulong upTo)
    {
        if (_epilogue || instance % 1_000 != _instanceIncarnation[(instance / 1_000) - 1] || LeaderNode() is not { } node)
        {
            return; // the instance died meanwhile, or no leader: the entries are delivered again after the ack timeout
        }

        node.Loop!.Post(n =>
        {
            var r = n.ConsumerAck(ConsumerStream, ConsumerName, instance, upTo);
            if (r.Status == RequestStatus.Ok)
            {
                _checker.ConsumerAcked(instance, upTo);
            }

            if (Tracing)
            {
                Trace(string.Create(CultureInfo.InvariantCulture, $"consumer instance {instance} ack {upTo} at n{node.Id}: {r.Status} floor {r.AckFloor}"));
            }
        });
        ScheduleRun(node, Now);
    }

    private SimNode? LeaderNode() =>
        CurrentLeader() is { } id && _nodes[id - 1] is { Up: true, Paused: false, Process: { } leader } node && leader.Status.Role == RaftRole.Leader ? node : null;
}
