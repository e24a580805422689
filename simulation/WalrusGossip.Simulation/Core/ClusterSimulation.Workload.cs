using System.Globalization;
using WalrusGossip.Node;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// The client workload: a few clients, each with one operation outstanding. Appends carry (clientId, sequence) and
/// are retried with the same sequence, at the hinted leader or another node, until acknowledged; linearizable reads
/// go through <see cref="WalrusNode.ReadBarrier"/>; stale reads read a node's local log up to its commit index.
/// </summary>
internal sealed partial class ClusterSimulation
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromMilliseconds(1500);

    private readonly Random _workload;
    private readonly List<Client> _clients = [];

    /// <summary>Highest commit point (acknowledged index or read index) of any operation completed so far, client side.</summary>
    private ulong _completedPoint;

    private enum OpKind
    {
        Append,
        Read,
        StaleRead,
    }

    private void StartWorkload()
    {
        for (var i = 0; i < 3; i++)
        {
            var client = new Client((ulong)(1000 + i)) { Target = 1 + _workload.Next(_nodes.Count) };
            _clients.Add(client);
            After(TimeSpan.FromMilliseconds(500 + _workload.Next(500)), $"client {client.Id} starts", () => NextOp(client));
        }
    }

    private void NextOp(Client client)
    {
        var roll = _workload.Next(100);
        var kind = roll < 70 ? OpKind.Append : roll < 88 ? OpKind.Read : OpKind.StaleRead;
        var op = new Op(kind, kind == OpKind.Append ? ++client.Sequence : 0, Now, _completedPoint);
        if (kind == OpKind.Append)
        {
            // Mostly small records, some large ones, so replication to a lagging follower spans several messages.
            op.Data = new byte[_workload.Next(10) == 0 ? 256 + _workload.Next(4 * 1024) : 8 + _workload.Next(120)];
            _workload.NextBytes(op.Data);
        }

        client.Current = op;
        SendAttempt(client, op);
    }

    private void SendAttempt(Client client, Op op)
    {
        var attempt = ++op.Attempts;
        op.AttemptSentAt = Now;
        var node = _nodes[client.Target - 1];
        var label = Tracing ? string.Create(CultureInfo.InvariantCulture, $"client {client.Id} {op.Kind} seq={op.Sequence} attempt={attempt}") : null;
        if (node.Up)
        {
            Schedule(new SimEvent { Kind = EventKind.AtNode, Node = node.Id, Incarnation = node.Incarnation, Label = label, Run = () => AtNode(client, op, attempt, node) }, Now + ClientHop());
        }

        After(ClientTimeout, label + " timeout", () =>
        {
            if (client.Current == op && op.Attempts == attempt)
            {
                client.Target = OtherNode(client.Target);
                SendAttempt(client, op);
            }
        });
    }

    private void AtNode(Client client, Op op, int attempt, SimNode node)
    {
        var process = node.Process!;
        switch (op.Kind)
        {
            case OpKind.Append:
                var payload = AppendCommand.Encode(client.Id, op.Sequence, "sim", op.Data);
                var clientId = client.Id;
                var sequence = op.Sequence;
                process.Append(client.Id, op.Sequence, payload, r =>
                {
                    if (r.Status == RequestStatus.Ok)
                    {
                        _checker.Acknowledged(node.Id, clientId, sequence, r.Index);
                    }

                    Respond(client, op, attempt, r.Status, r.Index, r.LeaderId);
                });
                break;
            case OpKind.Read:
                process.ReadBarrier(r => Respond(client, op, attempt, r.Status, r.ReadIndex, r.LeaderId));
                break;
            default:
                var status = process.Status;
                if (status.CommitIndex >= Math.Max(1, status.FirstIndex) && status.CommitIndex <= status.LastIndex)
                {
                    var index = status.FirstIndex + (ulong)_workload.NextInt64((long)(status.CommitIndex - status.FirstIndex + 1));
                    _checker.StaleRead(node.Id, process.Log.Read(index));
                    Stats.StaleReads++;
                }

                Respond(client, op, attempt, RequestStatus.Ok, 0, 0);
                break;
        }
    }

    private void Respond(Client client, Op op, int attempt, RequestStatus status, ulong index, ulong leader)
    {
        var label = Tracing ? string.Create(CultureInfo.InvariantCulture, $"client {client.Id} {op.Kind} seq={op.Sequence} attempt={attempt} <- {status} index={index} leader={leader}") : null;
        After(ClientHop(), label ?? "response", () => OnResponse(client, op, attempt, status, index, leader));
    }

    private void OnResponse(Client client, Op op, int attempt, RequestStatus status, ulong index, ulong leader)
    {
        if (client.Current != op || op.Attempts != attempt)
        {
            return;
        }

        switch (status)
        {
            case RequestStatus.Ok:
                Complete(client, op, index);
                return;
            case RequestStatus.SessionExpired:
                client.Current = null;
                After(ThinkTime(), "client next", () => NextOp(client));
                return;
            case RequestStatus.InvalidArgument:
                Fail("client-protocol", $"client {client.Id} append seq {op.Sequence} was refused as invalid");
                return;
            default:
                client.Target = leader != 0 && (int)leader != client.Target && (int)leader <= _nodes.Count ? (int)leader : OtherNode(client.Target);
                op.Attempts++;
                var retry = op.Attempts;
                After(TimeSpan.FromMilliseconds(20 + _workload.Next(80)), "client retry", () =>
                {
                    if (client.Current == op && op.Attempts == retry)
                    {
                        SendAttempt(client, op);
                    }
                });
                return;
        }
    }

    private void Complete(Client client, Op op, ulong index)
    {
        client.Current = null;
        switch (op.Kind)
        {
            case OpKind.Append:
                Stats.AppendsAcknowledged++;
                NoteAppendAfter(op.AttemptSentAt);
                _completedPoint = Math.Max(_completedPoint, index);
                break;
            case OpKind.Read:
                Stats.LinearizableReads++;
                if (index < op.Floor)
                {
                    Fail("linearizable-read", $"client {client.Id} read index {index} is older than commit point {op.Floor} observed by an operation that completed before the read started at {Seconds(op.IssuedAt)}");
                    return;
                }

                _completedPoint = Math.Max(_completedPoint, index);
                break;
        }

        After(ThinkTime(), "client next", () => NextOp(client));
    }

    private TimeSpan ThinkTime() => TimeSpan.FromMilliseconds(10 + _workload.Next(150));

    private int OtherNode(int current)
    {
        var next = 1 + _workload.Next(_nodes.Count - 1);
        return next >= current ? next + 1 : next;
    }

    private sealed class Client(ulong id)
    {
        public ulong Id => id;

        public ulong Sequence { get; set; }

        public int Target { get; set; }

        public Op? Current { get; set; }
    }

    private sealed class Op(OpKind kind, ulong sequence, TimeSpan issuedAt, ulong floor)
    {
        public OpKind Kind => kind;

        public ulong Sequence => sequence;

        public TimeSpan IssuedAt => issuedAt;

        /// <summary>Commit point every earlier-completed operation observed: a linearizable read must return at least this.</summary>
        public ulong Floor => floor;

        public int Attempts { get; set; }

        /// <summary>Application bytes of an append (the same on every retry).</summary>
        public byte[] Data { get; set; } = [];

        public TimeSpan AttemptSentAt { get; set; }
    }
}
