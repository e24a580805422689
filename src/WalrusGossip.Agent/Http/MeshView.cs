using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Membership;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// <c>/v1/mesh</c>, the web view's data: this agent's SWIM view of every member and, for each member, the
/// <c>/v1/status</c> it last fetched from that member's HTTP port (in parallel, with a short timeout, at most once
/// per <see cref="CacheFor"/>), with the figures the page shows worked out here: replication lag, commit and append
/// rates, and the append latency quantiles of the last interval. A member this agent cannot fetch (dead in the SWIM
/// view, or not answering) keeps its SWIM state and the figures it last gossiped, and is marked unreachable.
/// </summary>
internal sealed class MeshView : IDisposable
{
    /// <summary>How long one picture of the mesh is served to every caller before it is fetched again.</summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromMilliseconds(900);

    /// <summary>How long to wait for one member's <c>/v1/status</c>.</summary>
    public static readonly TimeSpan FetchTimeout = TimeSpan.FromMilliseconds(800);

    private static readonly TimeSpan RateWindow = TimeSpan.FromSeconds(30);
    private readonly AgentService _agent;
    private readonly HttpClient _http;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, Sample> _previous = new(StringComparer.Ordinal);
    private string? _cached;
    private long _cachedAt;

    /// <summary>Creates the view of one agent.</summary>
    /// <param name="agent">The running agent.</param>
    public MeshView(AgentService agent)
    {
        _agent = agent;
        _http = new HttpClient(new SocketsHttpHandler { UseProxy = false, ConnectTimeout = FetchTimeout }) { Timeout = FetchTimeout };
    }

    /// <summary>The mesh as JSON text, or null while this agent is starting.</summary>
    /// <param name="authorization">The caller's Authorization header, passed on to the members (they check it themselves).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    public async Task<string?> GetAsync(string? authorization, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_cached is not null && Stopwatch.GetElapsedTime(_cachedAt) < CacheFor)
            {
                return _cached;
            }

            var status = await HttpEndpoints.CaptureAsync(_agent).ConfigureAwait(false);
            if (status is null)
            {
                return null;
            }

            _cached = (await BuildAsync(status, authorization).ConfigureAwait(false)).ToJsonString();
            _cachedAt = Stopwatch.GetTimestamp();
            return _cached;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _http.Dispose();
        _gate.Dispose();
    }

    private async Task<JsonObject> BuildAsync(AgentStatus local, string? authorization)
    {
        var members = local.Members.OrderBy(m => ulong.TryParse(m.Name, NumberStyles.None, CultureInfo.InvariantCulture, out var id) ? id : ulong.MaxValue).ThenBy(m => m.Name, StringComparer.Ordinal).ToList();
        var fetches = members.Select(m => m.IsLocal
            ? Task.FromResult<(JsonObject?, string?)>((JsonSerializer.SerializeToNode(HttpEndpoints.StatusBody(_agent, local))!.AsObject(), null))
            : m.State is MemberState.Dead or MemberState.Left
                ? Task.FromResult<(JsonObject?, string?)>((null, $"{m.State.ToString().ToLowerInvariant()} in the SWIM view"))
                : FetchAsync(HttpAddressOf(m), authorization)).ToList();
        var results = await Task.WhenAll(fetches).ConfigureAwait(false);
        var now = Stopwatch.GetTimestamp();

        var leaderName = local.Node.LeaderId == 0 ? null : local.Node.LeaderId.ToString(CultureInfo.InvariantCulture);
        JsonObject? leader = null;
        ulong highestCommit = 0;
        for (var i = 0; i < members.Count; i++)
        {
            if (results[i].Item1 is { } s)
            {
                highestCommit = Math.Max(highestCommit, U64(s, "commitIndex") ?? 0);
                if (members[i].Name == leaderName)
                {
                    leader = s;
                }
            }
        }

        var list = new JsonArray();
        for (var i = 0; i < members.Count; i++)
        {
            var m = members[i];
            var (s, error) = results[i];
            var entry = new JsonObject
            {
                ["name"] = m.Name,
                ["address"] = m.Address,
                ["http"] = HttpAddressOf(m),
                ["state"] = m.State.ToString().ToLowerInvariant(),
                ["incarnation"] = m.Incarnation,
                ["local"] = m.IsLocal,
                ["reachable"] = s is not null,
                ["error"] = error,
            };
            if (s is not null)
            {
                var commit = U64(s, "commitIndex") ?? 0;
                var applied = U64(s, "appliedIndex") ?? 0;
                var counts = s["appendLatency"]?["counts"] is JsonArray a ? a.Select(c => c?.GetValue<long>() ?? 0).ToArray() : [];
                entry["role"] = s["role"]?.GetValue<string>();
                entry["term"] = U64(s, "term");
                entry["commitIndex"] = commit;
                entry["appliedIndex"] = applied;
                entry["lastIndex"] = U64(s, "lastIndex");
                entry["leaderId"] = U64(s, "leaderId");
                entry["segments"] = s["segments"]?.GetValue<long>();
                entry["logBytes"] = s["logBytes"]?.GetValue<long>();
                entry["version"] = s["version"]?.GetValue<string>();
                entry["lag"] = Lag(m.Name, applied, leaderName, leader, highestCommit);
                entry["appendsTotal"] = counts.Sum();
                if (_previous.TryGetValue(m.Name, out var before) && Stopwatch.GetElapsedTime(before.At, now) is var dt && dt > TimeSpan.Zero && dt <= RateWindow && counts.Length == before.Counts.Length)
                {
                    var delta = counts.Zip(before.Counts, (x, y) => Math.Max(0, x - y)).ToArray();
                    entry["commitRate"] = Math.Round(Math.Max(0, (double)commit - before.Commit) / dt.TotalSeconds, 1);
                    entry["appendRate"] = Math.Round(delta.Sum() / dt.TotalSeconds, 1);
                    entry["p50Ms"] = HttpEndpoints.Milliseconds(HttpEndpoints.LatencyQuantile(AgentMetrics.AppendLatencyBoundsSeconds, delta, 0.5));
                    entry["p99Ms"] = HttpEndpoints.Milliseconds(HttpEndpoints.LatencyQuantile(AgentMetrics.AppendLatencyBoundsSeconds, delta, 0.99));
                }

                _previous[m.Name] = new Sample(now, commit, counts);
            }
            else
            {
                // What the member last gossiped about itself (its own metadata, possibly old).
                entry["role"] = m.Metadata.GetValueOrDefault(MetadataKeys.RaftRole);
                entry["term"] = Parse(m.Metadata, MetadataKeys.RaftTerm);
                entry["commitIndex"] = Parse(m.Metadata, MetadataKeys.CommitIndex);
                entry["appliedIndex"] = Parse(m.Metadata, MetadataKeys.AppliedIndex);
                entry["logBytes"] = Parse(m.Metadata, MetadataKeys.DiskUsedBytes);
                entry["version"] = m.Metadata.GetValueOrDefault(MetadataKeys.Version);
                _previous.Remove(m.Name);
            }

            list.Add(entry);
        }

        return new JsonObject
        {
            ["node"] = local.Node.NodeId,
            ["version"] = AgentVersion.Current,
            ["leaderId"] = local.Node.LeaderId,
            ["term"] = local.Node.Term,
            ["generatedAt"] = DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["members"] = list,
        };
    }

    /// <summary>
    /// Entries this member is behind: on the leader 0; elsewhere the leader's last index minus the member's match
    /// index when the leader answered, else the highest commit index seen minus the member's applied index.
    /// </summary>
    private static ulong Lag(string name, ulong applied, string? leaderName, JsonObject? leader, ulong highestCommit)
    {
        if (name == leaderName)
        {
            return 0;
        }

        if (leader is not null && leader["replication"]?[name] is { } match)
        {
            var last = U64(leader, "lastIndex") ?? 0;
            var matched = match.GetValue<ulong>();
            return last > matched ? last - matched : 0;
        }

        return highestCommit > applied ? highestCommit - applied : 0;
    }

    private async Task<(JsonObject?, string?)> FetchAsync(string? http, string? authorization)
    {
        if (http is null)
        {
            return (null, "no HTTP address in its gossip metadata");
        }

        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri($"http://{http}/v1/status"));
            if (authorization is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", authorization);
            }

            using var response = await _http.SendAsync(request).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"unreachable: HTTP {(int)response.StatusCode}");
            }

            var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
            return JsonNode.Parse(text) is JsonObject o ? (o, null) : (null, "unreachable: not a status document");
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or UriFormatException)
        {
            return (null, "unreachable");
        }
    }

    /// <summary>The HTTP address the member advertises in its gossip metadata (host:port, as AgentService advertises every address).</summary>
    private static string? HttpAddressOf(MemberSnapshot m) => m.Metadata.GetValueOrDefault(MetadataKeys.HttpAddress);

    private static ulong? U64(JsonObject o, string key) => o[key] is JsonValue v && v.TryGetValue<ulong>(out var x) ? x : null;

    private static ulong? Parse(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var text) && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : null;

    private sealed record Sample(long At, ulong Commit, long[] Counts);
}
