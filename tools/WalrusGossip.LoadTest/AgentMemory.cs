using System.Globalization;

namespace WalrusGossip.LoadTest;

/// <summary>
/// Resident memory (MiB, VmRSS) of a local cluster's agents, by node id: one sample when the instance is made (idle,
/// before the load), the peak of the samples <see cref="SamplePeak"/> takes under load, and two samples after the
/// load in <see cref="DescribeAfterLoadAsync"/>. Without a local cluster (<c>--local</c>) it samples nothing.
/// Not thread-safe: one task samples at a time.
/// </summary>
internal sealed class AgentMemory
{
    private readonly LocalCluster? _local;
    private readonly Dictionary<ulong, double>? _idle;
    private readonly Dictionary<ulong, double> _peak = [];

    /// <summary>Takes the idle sample.</summary>
    /// <param name="local">The local cluster, or null when the run has none.</param>
    public AgentMemory(LocalCluster? local)
    {
        _local = local;
        _idle = local?.ResidentMiB();
    }

    /// <summary>Samples every live agent and keeps each one's highest figure.</summary>
    public void SamplePeak()
    {
        if (_local is null)
        {
            return;
        }

        foreach (var (id, mib) in _local.ResidentMiB())
        {
            _peak[id] = Math.Max(mib, _peak.GetValueOrDefault(id));
        }
    }

    /// <summary>
    /// Samples again 2 s and 10 s after the load (the agents return memory about a second after their load stops;
    /// thread-pool threads and other runtime caches shrink over the following seconds) and describes all figures.
    /// Cancellation cuts the waits short but still describes.
    /// </summary>
    /// <param name="cancellationToken">Cancels the run.</param>
    /// <returns>One report note (idle / peak / 2 s after / 10 s after per agent, "dead" for an agent not running), or null without a local cluster.</returns>
    public async Task<string?> DescribeAfterLoadAsync(CancellationToken cancellationToken)
    {
        if (_local is null || _idle is null)
        {
            return null;
        }

        await Task.Delay(2000, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var after2 = _local.ResidentMiB();
        await Task.Delay(8000, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        var after10 = _local.ResidentMiB();
        static string Mib(Dictionary<ulong, double> sample, ulong id) => sample.TryGetValue(id, out var v) ? v.ToString("F0", CultureInfo.InvariantCulture) : "dead";
        return string.Create(CultureInfo.InvariantCulture,
            $"agent RSS MiB (idle / peak under load / 2 s after / 10 s after): {string.Join(", ", _idle.Keys.Order().Select(id => $"node {id} {_idle[id]:F0} / {(_peak.TryGetValue(id, out var p) ? p : 0):F0} / {Mib(after2, id)} / {Mib(after10, id)}"))}");
    }
}
