namespace WalrusGossip.Client;

/// <summary>Whole-cluster status: every configured endpoint and every peer they report.</summary>
public sealed partial class WalrusClient
{
    /// <summary>Most endpoints <see cref="GetClusterStatusAsync"/> asks, so that a misreporting agent cannot make it run forever.</summary>
    private const int MaxStatusEndpoints = 256;

    /// <summary>
    /// Asks every configured endpoint for its status, then every peer those agents report (by its <c>client</c>
    /// address) that was not asked yet, all in parallel and with one attempt each. Agents reached through two
    /// addresses are listed once.
    /// </summary>
    /// <param name="cancellationToken">Cancels the requests.</param>
    /// <returns>One result per agent, answering ones first in node id order, then those that did not answer.</returns>
    public async Task<IReadOnlyList<EndpointStatus>> GetClusterStatusAsync(CancellationToken cancellationToken = default)
    {
        var asked = new HashSet<string>(_configured, StringComparer.Ordinal);
        var results = new List<EndpointStatus>();
        var wave = _configured.ToList();
        while (wave.Count > 0)
        {
            var answers = await Task.WhenAll(wave.Select(e => ProbeAsync(e, cancellationToken))).ConfigureAwait(false);
            results.AddRange(answers);
            wave = [];
            foreach (var answer in answers)
            {
                foreach (var peer in answer.Status?.Peers ?? [])
                {
                    if (peer.Addresses.TryGetValue(ClientAddressKey, out var address) && TryEndpoint(address) is { } endpoint
                        && asked.Count < MaxStatusEndpoints && asked.Add(endpoint.Key))
                    {
                        wave.Add(endpoint.Key);
                    }
                }
            }
        }

        var seenNodes = new HashSet<ulong>();
        var answered = results.Where(r => r.Status is { } s && seenNodes.Add(s.NodeId)).OrderBy(r => r.Status!.NodeId);
        return [.. answered, .. results.Where(r => r.Status is null)];
    }

    private async Task<EndpointStatus> ProbeAsync(string endpoint, CancellationToken cancellationToken)
    {
        try
        {
            return new EndpointStatus(endpoint, await GetStatusAsync(endpoint, cancellationToken).ConfigureAwait(false), null);
        }
        catch (WalrusException e)
        {
            return new EndpointStatus(endpoint, null, e.Message);
        }
    }
}
