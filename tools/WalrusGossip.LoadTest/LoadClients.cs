using WalrusGossip.Client;

namespace WalrusGossip.LoadTest;

/// <summary>
/// Client setup of a run: the <see cref="LoadSettings.SdkClients"/> <see cref="WalrusClient"/> instances the simulated
/// clients share round-robin (default 1, as an application shares one client: one multiplexed connection per agent),
/// each with <see cref="LoadSettings.Lanes"/> append requests in flight, into which waiting appends are coalesced; the
/// check that the cluster answers and has a leader before any load is sent; and the failover scenario's probe client.
/// </summary>
internal static class LoadClients
{
    /// <summary>How long the first status request may take before the run fails as unreachable.</summary>
    private static readonly TimeSpan ReachableLimit = TimeSpan.FromSeconds(15);

    /// <summary>Limit for one status request of the failover probe client.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Creates the shared load clients into <paramref name="clients"/>, one at a time, so that the caller disposes
    /// those already made when a later one fails.
    /// </summary>
    /// <param name="clients">Receives <see cref="LoadSettings.SdkClients"/> clients; the caller disposes them.</param>
    /// <param name="settings">The run's settings.</param>
    /// <param name="configure">Applies the cluster's endpoints (and context) to client options.</param>
    /// <exception cref="ArgumentException">The configured client options are not valid.</exception>
    public static void AddLoadClients(List<WalrusClient> clients, LoadSettings settings, Action<WalrusClientOptions> configure)
    {
        for (var i = 0; i < settings.SdkClients; i++)
        {
            var options = new WalrusClientOptions();
            configure(options);
            options.MaxConcurrentAppends = settings.Lanes;
            options.ClientName = "walrus-loadtest";
            options.Validate();
            clients.Add(new WalrusClient(options));
        }
    }

    /// <summary>
    /// Fails fast (clear error, no hang) when the cluster is unreachable or has no leader: one status request,
    /// at most 15 s.
    /// </summary>
    /// <param name="client">A load client.</param>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>The status of the agent that answered; its <see cref="NodeStatus.LeaderId"/> is not 0.</returns>
    /// <exception cref="WalrusUnavailableException">No agent answered within 15 s, or the cluster has no leader.</exception>
    public static async Task<NodeStatus> StatusWithLeaderAsync(WalrusClient client, CancellationToken cancellationToken)
    {
        using var probe = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        probe.CancelAfter(ReachableLimit);
        try
        {
            var status = await client.GetStatusAsync(probe.Token).ConfigureAwait(false);
            if (status.LeaderId == 0)
            {
                throw new WalrusUnavailableException($"{status.Endpoint}: the cluster has no leader (no quorum?)");
            }

            return status;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new WalrusUnavailableException("no agent answered a status request within 15 s");
        }
    }

    /// <summary>
    /// A client for the failover scenario's status polling of single agents: 5 s connect and request timeouts, no
    /// retries, and a short circuit break, so that a killed agent is reported quickly rather than retried.
    /// </summary>
    /// <param name="configure">Applies the cluster's endpoints (and context) to client options.</param>
    /// <returns>The probe client; the caller disposes it.</returns>
    /// <exception cref="ArgumentException">The configured client options are not valid.</exception>
    public static WalrusClient CreateProbe(Action<WalrusClientOptions> configure)
    {
        var options = new WalrusClientOptions();
        configure(options);
        options.ClientName = "walrus-loadtest-probe";
        options.ConnectTimeout = ProbeTimeout;
        options.RequestTimeout = ProbeTimeout;
        options.MaxRetries = 0;
        options.CircuitBreakDuration = TimeSpan.FromMilliseconds(500);
        options.Validate();
        return new WalrusClient(options);
    }
}
