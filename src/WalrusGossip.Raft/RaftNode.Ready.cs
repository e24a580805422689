namespace WalrusGossip.Raft;

/// <summary>The Ready / Advance hand-off between the pure core and the application's I/O (etcd/raft's RawNode).</summary>
public sealed partial class RaftNode
{
    private HardState _prevHardState;
    private SoftState _prevSoftState;
    private Ready? _outstanding;

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
        var entries = _log.UnstableEntries;
        var snapshot = _log.PendingSnapshot;
        var mustSync = entries.Count > 0 || snapshot is not null || hardState.Term != _prevHardState.Term || hardState.Vote != _prevHardState.Vote;
        var ready = new Ready(
            softState != _prevSoftState ? softState : null,
            hardState,
            hardState != _prevHardState,
            entries,
            snapshot,
            _log.NextCommittedEntries(_options.MaxCommittedBytesPerReady),
            _messages,
            _readStates,
            mustSync);
        _messages = [];
        _readStates = [];
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
        if (ready.HasHardState)
        {
            _prevHardState = ready.HardState;
        }

        if (ready.Snapshot is not null)
        {
            _log.StableSnapshotTo(ready.Snapshot.Metadata.Index);
            _log.Applied = Math.Max(_log.Applied, ready.Snapshot.Metadata.Index);
        }

        if (ready.Entries.Count > 0)
        {
            var last = ready.Entries[^1];
            _log.StableTo(last.Index, last.Term);
            AcknowledgeOwnWrite();
        }

        var committed = ready.CommittedEntries;
        if (committed.Count > 0)
        {
            _log.Applied = Math.Max(_log.Applied, committed[^1].Index);
            if (_role == RaftRole.Leader)
            {
                foreach (var entry in committed)
                {
                    _uncommittedBytes -= Math.Min(_uncommittedBytes, (ulong)entry.Payload.Length);
                }
            }
        }
    }
}
