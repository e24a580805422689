using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using WalrusGossip.Raft;

namespace WalrusGossip.Node;

public sealed partial class WalrusNode
{
    /// <summary>
    /// Proposes a client append. <paramref name="done"/> is called on the node loop once the entry is committed and
    /// applied (with its index), or when this node cannot take it (not leader, overloaded). A retried
    /// (<paramref name="clientId"/>, <paramref name="sequence"/>) that was already applied is answered with the
    /// original index and not written again (dissertation §6.3).
    /// </summary>
    /// <param name="clientId">Session id; 0 disables deduplication.</param>
    /// <param name="sequence">Per-client sequence number, increasing.</param>
    /// <param name="payload">Encoded <see cref="AppendCommand"/> payload.</param>
    /// <param name="done">Completion callback, called exactly once on the node loop.</param>
    public void Append(ulong clientId, ulong sequence, ReadOnlyMemory<byte> payload, Action<AppendResult> done)
    {
        ArgumentNullException.ThrowIfNull(done);
        var raft = Raft;
        if (clientId != 0)
        {
            switch (_stateMachine.CheckSession(clientId, sequence, out var original))
            {
                case SessionCheck.Duplicate:
                    var stream = AppendCommand.StreamOf(payload.Span);
                    done(new AppendResult(RequestStatus.Ok, original, 0, 0, stream is null ? 0 : _stateMachine.Streams.SequenceOf(stream, original)));
                    return;
                case SessionCheck.Expired:
                    done(new AppendResult(RequestStatus.SessionExpired, 0, 0, 0));
                    return;
            }

            if (_pendingBySession.TryGetValue((clientId, sequence), out var inFlight))
            {
                ref var pending = ref CollectionsMarshal.GetValueRefOrNullRef(_pendingByIndex, inFlight);
                if (!Unsafe.IsNullRef(ref pending) && pending.ClientId == clientId && pending.Sequence == sequence)
                {
                    (pending.More ??= []).Add(done); // a retry of an append still in flight: answered with it
                    return;
                }

                // Stale: the index now awaits another append (this node lost leadership, and as leader again proposed a
                // new entry there). Joining it would acknowledge this append at an index that holds another one.
                _pendingBySession.Remove((clientId, sequence));
            }
        }

        if (IsLowOnSpace)
        {
            done(new AppendResult(RequestStatus.NoSpace, 0, 0, raft.Status.Leader));
            return;
        }

        var result = raft.Propose(payload);
        switch (result.Status)
        {
            case ProposalStatus.Accepted:
                if (_pendingByIndex.Remove(result.Index, out var overwritten))
                {
                    // An earlier proposal of this node at the same index, from a term it lost, was never applied here:
                    // the new leader's log replaced it. Its callers retry; its session no longer points here.
                    if (overwritten.ClientId != 0 && _pendingBySession.TryGetValue((overwritten.ClientId, overwritten.Sequence), out var at) && at == result.Index)
                    {
                        _pendingBySession.Remove((overwritten.ClientId, overwritten.Sequence));
                    }

                    overwritten.Complete(new AppendResult(RequestStatus.Retry, 0, 0, raft.Status.Leader));
                }

                _pendingByIndex[result.Index] = new PendingAppend(result.Term, clientId, sequence, done);
                if (clientId != 0)
                {
                    _pendingBySession[(clientId, sequence)] = result.Index;
                }

                ProcessReady();
                return;
            case ProposalStatus.TooLarge:
                done(new AppendResult(RequestStatus.InvalidArgument, 0, 0, 0));
                return;
            case ProposalStatus.Overloaded:
                done(new AppendResult(RequestStatus.Overloaded, 0, 0, raft.Status.Leader));
                return;
            default:
                done(new AppendResult(RequestStatus.NotLeader, 0, 0, raft.Status.Leader));
                return;
        }
    }

    /// <summary>
    /// Confirms a linearizable read point (ReadIndex, dissertation §6.4): <paramref name="done"/> receives an index
    /// such that every entry committed before this call is at or below it and already applied locally, so a local
    /// read up to it is linearizable. Followers forward the request to the leader.
    /// </summary>
    /// <param name="done">
    /// Completion callback, called exactly once on the node loop: <see cref="RequestStatus.Ok"/> with the read index, or
    /// <see cref="RequestStatus.NotLeader"/> at once when no leader is known, or <see cref="RequestStatus.Retry"/> when
    /// the term changes before the leader confirmed the read (the request or its answer may be lost with the old leader).
    /// </param>
    public void ReadBarrier(Action<ReadResult> done)
    {
        ArgumentNullException.ThrowIfNull(done);
        var id = ++_nextReadId;
        var context = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(context, Id);
        BinaryPrimitives.WriteUInt64LittleEndian(context.AsSpan(8), id);
        if (!Raft.ReadIndex(context))
        {
            done(new ReadResult(RequestStatus.NotLeader, 0, Raft.Status.Leader));
            return;
        }

        _pendingReads[id] = (Raft.Status.Term, done);
        ProcessReady();
    }

    /// <summary>
    /// Answers <see cref="RequestStatus.Retry"/> to every read barrier still waiting for its leader's confirmation when
    /// the term has moved on: the old leader's answer will never come (ReadIndex, dissertation §6.4), and the client
    /// must not wait for its own timeout to learn it.
    /// </summary>
    private void AbandonReadsOfOlderTerms()
    {
        if (_pendingReads.Count == 0)
        {
            return;
        }

        var term = Raft.Status.Term;
        List<ulong>? stale = null;
        foreach (var (id, read) in _pendingReads)
        {
            if (read.Term != term)
            {
                (stale ??= []).Add(id);
            }
        }

        if (stale is null)
        {
            return;
        }

        var leader = Raft.Status.Leader;
        foreach (var id in stale)
        {
            _pendingReads.Remove(id, out var read);
            read.Done(new ReadResult(RequestStatus.Retry, 0, leader));
        }
    }

    /// <summary>Tells Raft that messages to <paramref name="peer"/> could not be delivered (its connection is down), so replication to it falls back to probing.</summary>
    /// <param name="peer">Peer node id.</param>
    public void ReportUnreachable(ulong peer)
    {
        Raft.ReportUnreachable(peer);
        ProcessReady();
    }

    /// <summary>
    /// Tells the node that the connection <paramref name="peer"/> opened to it broke. When that peer is the leader this
    /// follower suspects it crashed and holds an election soon (see <see cref="RaftNode.SuspectLeader"/>).
    /// </summary>
    /// <param name="peer">Peer node id.</param>
    public void ReportPeerConnectionLost(ulong peer)
    {
        Raft.SuspectLeader(peer);
        ProcessReady();
    }

    /// <summary>Starts a leadership transfer to <paramref name="target"/> (TimeoutNow, dissertation §3.10).</summary>
    /// <param name="target">A voter.</param>
    /// <returns>False when this node is not leader or the target is not a voter.</returns>
    public bool TransferLeadership(ulong target)
    {
        var started = Raft.TransferLeadership(target);
        ProcessReady();
        return started;
    }

    /// <summary>
    /// True when the committed entry at <paramref name="index"/> is a second copy of a retried append whose first copy
    /// is at a lower index (dissertation §6.3): readers skip it, so every append appears once.
    /// </summary>
    /// <param name="index">An applied index.</param>
    /// <returns>Whether the entry is a duplicate.</returns>
    public bool IsDuplicate(ulong index) => _stateMachine.IsDuplicate(index);

    /// <summary>
    /// Starts a batch: until the matching <see cref="EndBatch"/>, inputs (<see cref="Append"/>, <see cref="ReceiveRaft"/>,
    /// <see cref="Tick"/>, ...) only step the Raft core, and their effects wait. The agent's node loop wraps each drain of
    /// its inbox in a batch, so every append and message queued meanwhile shares one Ready: one log write and one fsync
    /// (group commit), one AppendEntries per follower. Batches nest; only the outermost end performs the Ready.
    /// </summary>
    public void BeginBatch() => _batchDepth++;

    /// <summary>Ends a batch started by <see cref="BeginBatch"/>; the outermost end performs the pending Ready.</summary>
    /// <exception cref="InvalidOperationException">No batch is open.</exception>
    public void EndBatch()
    {
        if (_batchDepth == 0)
        {
            throw new InvalidOperationException("EndBatch without BeginBatch");
        }

        if (--_batchDepth == 0)
        {
            ProcessReady();
        }
    }

    /// <summary>True when Raft has effects left that the last input did not perform (see <see cref="NodeOptions.MaxReadiesPerInput"/>).</summary>
    public bool HasPendingWork => _batchDepth == 0 && Raft.HasReady;

    /// <summary>Performs up to <see cref="NodeOptions.MaxReadiesPerInput"/> pending Readys.</summary>
    public void ProcessPendingWork() => ProcessReady();

    /// <summary>Performs one Ready: persist, send, apply, answer, advance. Repeats while Raft has more, up to <see cref="NodeOptions.MaxReadiesPerInput"/>. Deferred inside a batch.</summary>
    private void ProcessReady()
    {
        if (_batchDepth > 0)
        {
            return;
        }

        var raft = Raft;
        for (var performed = 0; raft.HasReady && performed < _options.MaxReadiesPerInput; performed++)
        {
            var ready = raft.GetReady();
            // A leader's AppendEntries and heartbeats leave before its own write, so followers write in parallel with
            // it (dissertation §10.2.1; the core counts the leader's copy only after Advance). Everything else (votes,
            // acknowledgements) promises what is on disk and waits for the write.
            // The Ready's spans are valid until Advance (Ready's remarks): everything below reads them before it.
            var leaderWrite = raft.Role == RaftRole.Leader && ready.Entries.Length > 0;
            SendRaft(ready.Messages, leaderWrite, early: true);
            _raftLog!.Save(ready);
            SendRaft(ready.Messages, leaderWrite, early: false);

            if (ready.Snapshot is { IsEmpty: false } snapshot)
            {
                ApplySnapshot(snapshot);
            }

            foreach (ref readonly var entry in ready.CommittedEntries)
            {
                Apply(entry);
            }

            foreach (ref readonly var rs in ready.ReadStates)
            {
                if (rs.Context.Length == 16 && BinaryPrimitives.ReadUInt64LittleEndian(rs.Context.Span) == Id)
                {
                    var id = BinaryPrimitives.ReadUInt64LittleEndian(rs.Context.Span[8..]);
                    if (_pendingReads.Remove(id, out var read))
                    {
                        _readsAwaitingApply.Add((rs.Index, read.Done));
                    }
                }
            }

            raft.Advance(ready);
            PublishCommitted(); // before the answers: a reader told "applied up to N" must find N in the view
            AnswerReadsUpTo(_applied);
        }

        if (_pendingMemberChanges.Count > 0)
        {
            CompleteMemberChanges();
        }

        if (_pendingSecurityChanges.Count > 0)
        {
            CompleteSecurityChanges();
        }

        if (_pendingConsumerChanges.Count > 0 || _cursors.Count > 0)
        {
            CompleteConsumerChanges();
        }

        AbandonReadsOfOlderTerms();
        CheckpointIfDue();
    }

    /// <summary>Sends the messages that may leave before the Ready's write (<paramref name="early"/>) or the rest after it.</summary>
    private void SendRaft(ReadOnlySpan<RaftMessage> messages, bool leaderWrite, bool early)
    {
        for (var i = 0; i < messages.Length; i++)
        {
            var message = messages[i];
            if ((leaderWrite && (message.Type is RaftMessageType.Append or RaftMessageType.Heartbeat)) == early)
            {
                if (message.Type == RaftMessageType.InstallSnapshot)
                {
                    StartSnapshotTransfer(message); // streamed in chunks, never as one message
                }
                else
                {
                    _transport.SendRaft(message);
                }
            }
        }
    }

    private void Apply(in LogEntry entry)
    {
        if (entry.Index <= _applied)
        {
            return;
        }

        _applied = entry.Index;
        _appliedBytesSinceCheckpoint += (ulong)entry.Payload.Length;
        var outcome = _stateMachine.Apply(entry);
        if (_pendingByIndex.Remove(entry.Index, out var pending))
        {
            if (pending.ClientId != 0)
            {
                _pendingBySession.Remove((pending.ClientId, pending.Sequence));
            }

            var result = pending.Term != entry.Term ? new AppendResult(RequestStatus.Retry, 0, 0, Raft.Status.Leader)
                : outcome.Kind == AppliedKind.Expired ? new AppendResult(RequestStatus.SessionExpired, 0, 0, Id)
                : new AppendResult(RequestStatus.Ok, outcome.OriginalIndex, entry.Term, Id, outcome.StreamSequence);
            pending.Complete(result);
        }
    }

    private void ApplySnapshot(RaftSnapshot snapshot)
    {
        SnapshotsInstalled++;
        _applied = Math.Max(_applied, snapshot.Metadata.Index);
        _stateMachine.Restore(snapshot.Data, snapshot.Metadata.Config);
        _prunedBelow = 0; // the restored stream index holds entries the log no longer has: prune at the next publish
        var stale = new List<ulong>();
        foreach (var (index, _) in _pendingByIndex)
        {
            if (index <= _applied)
            {
                stale.Add(index);
            }
        }

        foreach (var index in stale)
        {
            _pendingByIndex.Remove(index, out var pending);
            _pendingBySession.Remove((pending.ClientId, pending.Sequence));
            pending.Complete(new AppendResult(RequestStatus.Retry, 0, 0, Raft.Status.Leader));
        }
    }

    private void AnswerReadsUpTo(ulong applied)
    {
        for (var i = _readsAwaitingApply.Count - 1; i >= 0; i--)
        {
            var (index, done) = _readsAwaitingApply[i];
            if (index <= applied)
            {
                _readsAwaitingApply.RemoveAt(i);
                done(new ReadResult(RequestStatus.Ok, index, Id));
            }
        }
    }

    /// <summary>
    /// An append awaiting commit: a struct in <see cref="_pendingByIndex"/> with its first callback inline, so the common
    /// case (one caller) allocates nothing beyond the dictionary slot; retries of the same append join <see cref="More"/>.
    /// </summary>
    private struct PendingAppend(ulong term, ulong clientId, ulong sequence, Action<AppendResult> first)
    {
        public readonly ulong Term = term;
        public readonly ulong ClientId = clientId;
        public readonly ulong Sequence = sequence;
        public List<Action<AppendResult>>? More;

        public readonly void Complete(AppendResult result)
        {
            first(result);
            if (More is not null)
            {
                foreach (var done in More)
                {
                    done(result);
                }
            }
        }
    }
}
