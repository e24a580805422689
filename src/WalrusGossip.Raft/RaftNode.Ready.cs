namespace WalrusGossip.Raft;

/// <summary>The Ready / Advance hand-off between the pure core and the application's I/O (etcd/raft's RawNode).</summary>
public sealed partial class RaftNode
{
    private HardState _prevHardState;
    private SoftState _prevSoftState;
    private Ready? _outstanding;

    // Reused by every Ready (issue 21): the one Ready object, the buffer its committed entries are copied into, and the
    // message and read-state lists it shows, swapped with the ones the core fills meanwhile and cleared at Advance.
    private readonly Ready _ready = new();
    private readonly List<LogEntry> _committedBuffer = [];
    private List<RaftMessage> _spareMessages = [];
    private List<ReadState> _spareReadStates = [];

    /// <summary>A committed-entry buffer grown past this many entries is dropped at <see cref="Advance"/> rather than kept.</summary>
    private const int MaxKeptCommittedBuffer = 64 << 10;

    /// <summary>True when <see cref="GetReady"/> would return work and no earlier Ready awaits <see cref="Advance"/>.</summary>
    public bool HasReady
    {
        get
        {
            if (_outstanding is not null)
            {
                return false;
            }

            return _broadcastPending
                || _messages.Count > 0
                || _readStates.Count > 0
                || _log.HasUnstableEntries
                || _log.PendingSnapshot is not null
                || _log.HasNextCommittedEntries
                || CurrentHardState != _prevHardState
                || new SoftState(_lead, _role) != _prevSoftState;
        }
    }

    /// <summary>
    /// Collects the pending effects. Proposals made since the previous call are sent to followers now, as one
    /// batch per follower. Handle the result in the order documented on <see cref="Ready"/>, then call <see cref="Advance"/>.
    /// </summary>
    /// <returns>The effects to perform; possibly empty.</returns>
    /// <exception cref="InvalidOperationException">The previous Ready has not been passed to <see cref="Advance"/>.</exception>
    public Ready GetReady()
    {
        if (_outstanding is not null)
        {
            throw new InvalidOperationException("Call Advance with the previous Ready before asking for another.");
        }

        if (_broadcastPending)
        {
            _broadcastPending = false;
            if (_role == RaftRole.Leader)
            {
                BroadcastAppend();
            }
        }

        var hardState = CurrentHardState;
        var softState = new SoftState(_lead, _role);
        var entries = _log.LendUnstable();
        var snapshot = _log.PendingSnapshot;
        var mustSync = entries.Length > 0 || snapshot is not null || hardState.Term != _prevHardState.Term || hardState.Vote != _prevHardState.Vote;
        _log.NextCommittedEntries(_options.MaxCommittedBytesPerReady, _committedBuffer);
        var ready = _ready;
        ready.Set(
            softState != _prevSoftState ? softState : null,
            hardState,
            hardState != _prevHardState,
            entries,
            snapshot,
            _committedBuffer,
            _messages,
            _readStates,
            mustSync);
        (_messages, _spareMessages) = (_spareMessages, _messages); // the spare lists were emptied at the last Advance
        (_readStates, _spareReadStates) = (_spareReadStates, _readStates);
        _prevSoftState = softState;
        _outstanding = ready;
        return ready;
    }

    /// <summary>
    /// A leader's entries became durable: its own match index moves to them, which may commit entries (and the new
    /// commit index goes out to followers with the next Ready). Until then the leader's copy does not count toward the
    /// quorum, which is what allows <see cref="Ready.Messages"/> of a leader to be sent before its entries are written.
    /// </summary>
    private void AcknowledgeOwnWrite()
    {
        if (_role != RaftRole.Leader || !_progress.TryGetValue(Id, out var self) || !self.MaybeUpdate(_log.LastStableIndex))
        {
            return;
        }

        if (MaybeCommit() && _role == RaftRole.Leader)
        {
            _broadcastPending = true;
        }
    }

    /// <summary>
    /// Tells the node that <paramref name="ready"/> has been handled: its hard state, entries and snapshot are
    /// durable, its messages sent, its committed entries applied.
    /// </summary>
    /// <param name="ready">The Ready returned by the last <see cref="GetReady"/>.</param>
    /// <exception cref="InvalidOperationException"><paramref name="ready"/> is not the outstanding Ready.</exception>
    public void Advance(Ready ready)
    {
        ArgumentNullException.ThrowIfNull(ready);
        if (!ReferenceEquals(ready, _outstanding))
        {
            throw new InvalidOperationException("Advance must be called with the Ready returned by the last GetReady.");
        }

        _outstanding = null;
        _log.ReleaseUnstable();
        if (ready.HasHardState)
        {
            _prevHardState = ready.HardState;
        }

        if (ready.Snapshot is not null)
        {
            _log.StableSnapshotTo(ready.Snapshot.Metadata.Index);
            _log.Applied = Math.Max(_log.Applied, ready.Snapshot.Metadata.Index);
        }

        var entries = ready.Entries;
        if (entries.Length > 0)
        {
            var last = entries[^1];
            _log.StableTo(last.Index, last.Term);
            AcknowledgeOwnWrite();
        }

        var committed = ready.CommittedEntries;
        if (committed.Length > 0)
        {
            _log.Applied = Math.Max(_log.Applied, committed[^1].Index);
            if (_role == RaftRole.Leader)
            {
                foreach (ref readonly var entry in committed)
                {
                    _uncommittedBytes -= Math.Min(_uncommittedBytes, (ulong)entry.Payload.Length);
                }
            }
        }

        // Empty the views and hand the buffers back for the next Ready: the messages and read states it showed were
        // taken by the application (the messages themselves are never reused), the entries copied or applied.
        ready.Clear();
        ClearOrDrop(_committedBuffer);
        _spareMessages.Clear();
        _spareReadStates.Clear();
    }

    private static void ClearOrDrop(List<LogEntry> buffer)
    {
        buffer.Clear();
        if (buffer.Capacity > MaxKeptCommittedBuffer)
        {
            buffer.Capacity = 0; // a catch-up burst: do not keep its buffer
        }
    }
}
