using System.Globalization;
using WalrusGossip.Agent.Http;
using WalrusGossip.Membership;

namespace WalrusGossip.Agent.Hosting;

/// <summary>The maintenance loop: the peer and client address book kept in step with gossip, the Raft state for logs, and idle memory trimming.</summary>
public sealed partial class AgentService
{
    private readonly Dictionary<ulong, string> _clientAddresses = [];
    private readonly Lock _addressLock = new();
    private readonly IdleTrimmer _idleTrimmer = new();

    /// <summary>The client address a node advertises in its gossip metadata, as last seen by <see cref="MaintainAsync"/>.</summary>
    /// <param name="nodeId">A node id.</param>
    /// <returns>The address (host:port), or null when not (yet) known.</returns>
    private string? ClientAddressOf(ulong nodeId)
    {
        lock (_addressLock)
        {
            return _clientAddresses.TryGetValue(nodeId, out var a) ? a : null;
        }
    }

    /// <summary>Every 200 ms: refresh peer and client addresses from gossip and the status the metrics report; return memory once a load has stopped.</summary>
    /// <param name="cancellationToken">Ends the loop (on stop).</param>
    /// <returns>A task that completes when the loop ends: on cancellation or once the node loop is gone.</returns>
    private async Task MaintainAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var loop = Loop;
                if (loop is null)
                {
                    await Task.Delay(200, cancellationToken).ConfigureAwait(false); // the node is down (reopening after a storage failure)
                    continue;
                }

                var captured = await loop.InvokeAsync(n => AgentStatus.Capture(n, _clock.Now, Addresses)).ConfigureAwait(false);
                Metrics.Update(captured); // what dotnet-counters and OTLP read between scrapes
                var (members, status) = (captured.Members, captured.Node);
                _raftState.Update(status.Term, status.IsLearner ? "learner" : status.Role.ToString().ToLowerInvariant());
                foreach (var m in members)
                {
                    if (!ulong.TryParse(m.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id))
                    {
                        continue;
                    }

                    if (m.Metadata.TryGetValue(MetadataKeys.PeerAddress, out var peer))
                    {
                        _peers?.SetPeerAddress(id, peer);
                    }

                    if (m.Metadata.TryGetValue(MetadataKeys.ClientAddress, out var client))
                    {
                        lock (_addressLock)
                        {
                            _clientAddresses[id] = client;
                        }
                    }
                }

                if (_idleTrimmer.ShouldTrim(loop.AppliedIndex, _clock.Now))
                {
                    // Load has stopped: shrink the log's group-commit buffers and return the heap the load grew to (see IdleTrimmer).
                    await loop.InvokeAsync(n =>
                    {
                        n.ReleaseMemory();
                        return true;
                    }).ConfigureAwait(false);
                    IdleTrimmer.ReturnMemory();
                }

                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (OperationCanceledException)
            {
                // The loop stopped under us (a storage failure): look again once the supervisor has reopened the node.
            }
        }
    }
}
