using System.Globalization;
using WalrusGossip.Node;
using WalrusGossip.Storage;

namespace WalrusGossip.Simulation.Core;

/// <summary>
/// The client workload: a few clients, each pipelining up to <see cref="Client.Depth"/> (1-4) operations at once, as
/// the SDK does. Appends carry (clientId, sequence, acknowledged-below) and are retried with the same sequence, at the
/// hinted leader or another node, until acknowledged; linearizable reads go through <see cref="WalrusNode.ReadBarrier"/>;
/// stale reads read a node's committed view (<see cref="WalrusNode.Committed"/>) off its loop, as the agent serves them.
/// Every request reaches a node through its loop's inbox.
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
            var client = new Client((ulong)(1000 + i), 1 + _workload.Next(4)) { Target = 1 + _workload.Next(_nodes.Count) };
            _clients.Add(client);
            After(TimeSpan.FromMilliseconds(500 + _workload.Next(500)), $"client {client.Id} starts", () => FillPipeline(client));
        }
    }

    /// <summary>Issues operations until the client has <see cref="Client.Depth"/> in flight.</summary>
    private void FillPipeline(Client client)
    {
        while (client.InFlight.Count < client.Depth)
        {
            NextOp(client);
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

        client.InFlight.Add(op);
        SendAttempt(client, op);
    }

    private void SendAttempt(Client client, Op op)
    {
        var attempt = ++op.Attempts;
        op.AttemptSentAt = Now;
        var node = _nodes[client.Target - 1];
        var label = Tracing ? string.Create(CultureInfo.InvariantCulture, $"client {client.Id} {op.Kind} seq={op.Sequence} attempt={attempt}") : null;
        if (node.Up && op.Kind == OpKind.StaleRead)
        {
            var incarnation = node.Incarnation;
            After(ClientHop(), label ?? "stale read", () =>
            {
                if (node.Up && node.Incarnation == incarnation)
                {
                    StaleRead(client, op, attempt, node);
                }
            });
        }
        else if (node.Up)
        {
            Schedule(new SimEvent { Kind = EventKind.AtNode, Node = node.Id, Incarnation = node.Incarnation, Label = label, Run = () => AtNode(client, op, attempt, node) }, Now + ClientHop());
        }

        After(ClientTimeout, label + " timeout", () =>
        {
            if (client.InFlight.Contains(op) && op.Attempts == attempt)
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
                // Three streams, picked from the sequence (no random draw), names as long as the single stream before them.
                var payload = AppendCommand.Encode(client.Id, op.Sequence, StreamOf(op.Sequence), op.Data, client.AcknowledgedBelow);
                var clientId = client.Id;
                var sequence = op.Sequence;
                process.Append(client.Id, op.Sequence, payload, r =>
                {
                    if (r.Status == RequestStatus.Ok)
                    {
                        // A retried append whose first copy retention already removed is told stream sequence 0 (unknown).
                        var compacted = node.Process is { } p && p.LocalLog.FirstIndex > r.Index;
                        _checker.Acknowledged(node.Id, clientId, sequence, r.Index, compacted && r.StreamSequence == 0 ? ulong.MaxValue : r.StreamSequence);
                    }

                    Respond(client, op, attempt, r.Status, r.Index, r.LeaderId);
                });
                break;
            case OpKind.Read:
                process.ReadBarrier(r => Respond(client, op, attempt, r.Status, r.ReadIndex, r.LeaderId));
                break;
            default:
                throw new InvalidOperationException("stale reads are served off the loop");
        }
    }

    private static readonly string[] Streams = ["sm0", "sm1", "sm2"];

    private static string StreamOf(ulong sequence) => Streams[(int)(sequence % 3)];

    /// <summary>A stale read, served as the agent serves it: from the node's committed view, without visiting its loop.</summary>
    private void StaleRead(Client client, Op op, int attempt, SimNode node)
    {
        var view = node.Process!.Committed;
        if (view.AppliedIndex >= view.FirstIndex)
        {
            var from = view.FirstIndex + (ulong)_workload.NextInt64((long)(view.AppliedIndex - view.FirstIndex + 1));
            var entries = new List<CommittedEntry>();
            node.Disk.Observing = true;
            try
            {
                view.Read(from, 4, 64 * 1024, null, entries);
                _checker.StaleRead(node.Id, view.AppliedIndex, entries);
                Stats.StaleReads++;

                // And the newest few entries of one stream, through the stream index, as a stream read or tail is served.
                var stream = StreamOf(op.Sequence);
                if (view.StreamInfo(stream) is { Entries: > 0 } info)
                {
                    var byStream = new List<CommittedEntry>();
                    view.ReadStream(stream, Math.Max(info.FirstSequence, info.LastSequence > 3 ? info.LastSequence - 3 : 1), 4, 64 * 1024, byStream);
                    _checker.StaleRead(node.Id, view.AppliedIndex, byStream);
                    Stats.StreamReads++;
                }
            }
            catch (LogIndexOutOfRangeException e) when (e.IsCompacted)
            {
                // Deleted by retention after the view was taken: the agent answers Compacted.
            }
            catch (StreamCompactedException)
            {
                // The stream's oldest entries went with the log's prefix meanwhile: the agent answers Compacted.
            }
            catch (DamagedEntryException)
            {
                // A record found damaged after it was applied, awaiting repair: the agent answers Unavailable.
            }
            finally
            {
                node.Disk.Observing = false;
            }
        }

        Respond(client, op, attempt, RequestStatus.Ok, 0, 0);
    }

    private void Respond(Client client, Op op, int attempt, RequestStatus status, ulong index, ulong leader)
    {
        var label = Tracing ? string.Create(CultureInfo.InvariantCulture, $"client {client.Id} {op.Kind} seq={op.Sequence} attempt={attempt} <- {status} index={index} leader={leader}") : null;
        After(ClientHop(), label ?? "response", () => OnResponse(client, op, attempt, status, index, leader));
    }

    private void OnResponse(Client client, Op op, int attempt, RequestStatus status, ulong index, ulong leader)
    {
        if (!client.InFlight.Contains(op) || op.Attempts != attempt)
        {
            return;
        }

        switch (status)
        {
            case RequestStatus.Ok:
                Complete(client, op, index);
                return;
            case RequestStatus.SessionExpired:
                client.InFlight.Remove(op);
                After(ThinkTime(), "client next", () => FillPipeline(client));
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
                    if (client.InFlight.Contains(op) && op.Attempts == retry)
                    {
                        SendAttempt(client, op);
                    }
                });
                return;
        }
    }

    private void Complete(Client client, Op op, ulong index)
    {
        client.InFlight.Remove(op);
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

        After(ThinkTime(), "client next", () => FillPipeline(client));
    }

    private TimeSpan ThinkTime() => TimeSpan.FromMilliseconds(10 + _workload.Next(150));

    private int OtherNode(int current)
    {
        var next = 1 + _workload.Next(_nodes.Count - 1);
        return next >= current ? next + 1 : next;
    }

    private sealed class Client(ulong id, int depth)
    {
        public ulong Id => id;

        /// <summary>Operations this client keeps in flight at once (1-4).</summary>
        public int Depth => depth;

        public ulong Sequence { get; set; }

        public int Target { get; set; }

        /// <summary>Operations sent and not yet answered, oldest first.</summary>
        public List<Op> InFlight { get; } = [];

        /// <summary>
        /// Every sequence below this one has been answered (or abandoned), so the session may forget it: the lowest
        /// sequence of an append still in flight, else the next sequence.
        /// </summary>
        public ulong AcknowledgedBelow
        {
            get
            {
                var lowest = Sequence + 1;
                foreach (var op in InFlight)
                {
                    if (op.Kind == OpKind.Append && op.Sequence < lowest)
                    {
                        lowest = op.Sequence;
                    }
                }

                return lowest;
            }
        }
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
