using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using WalrusGossip.Agent.Hosting;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// The HTTP port: <c>/health</c>, <c>/ready</c>, <c>/metrics</c> (Prometheus text), <c>/v1/status</c> and <c>/v1/mesh</c>
/// (JSON), and the web view <c>/ui</c> (one static page embedded in this assembly, polling <c>/v1/mesh</c>; <c>/</c> redirects to it).
/// </summary>
public static class HttpEndpoints
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>The web view, <c>Http/WebView.html</c>, embedded in this assembly as <c>WalrusGossip.Agent.Http.WebView.html</c>.</summary>
    internal static readonly Lazy<byte[]> WebViewPage = new(() =>
    {
        using var stream = typeof(HttpEndpoints).Assembly.GetManifestResourceStream("WalrusGossip.Agent.Http.WebView.html")
            ?? throw new InvalidOperationException("the web view resource WalrusGossip.Agent.Http.WebView.html is missing from the assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    private static IResult Unauthorized() =>
        Results.Text("a token with the read permission is required (Authorization: Bearer TOKEN; Security:HttpRequireToken)\n", statusCode: 401);

    /// <summary>Maps the endpoints.</summary>
    /// <param name="app">The web application.</param>
    /// <param name="agent">The running agent.</param>
    public static void Map(WebApplication app, AgentService agent)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(agent);
        var mesh = new MeshView(agent);
        app.Lifetime.ApplicationStopped.Register(mesh.Dispose);
        app.MapGet("/", () => Results.Redirect("/ui"));
        app.MapGet("/ui", () => Results.Bytes(WebViewPage.Value, "text/html; charset=utf-8"));
        app.MapGet("/v1/mesh", async (HttpRequest request) =>
        {
            if (!agent.AllowsHttpRead(request.Headers.Authorization))
            {
                return Unauthorized();
            }

            string? authorization = request.Headers.Authorization;
            return await mesh.GetAsync(authorization, request.HttpContext.RequestAborted).ConfigureAwait(false) is { } json
                ? Results.Text(json, "application/json; charset=utf-8")
                : Results.Json(new { error = "starting" }, statusCode: 503);
        });
        app.MapAgentHealthChecks();
        // /metrics is the OpenTelemetry Prometheus exporter (AgentTelemetry); in front of it, the read-token check and a
        // fresh status for the node gauges.
        app.Use(async (context, next) =>
        {
            if (context.Request.Path == "/metrics")
            {
                if (!agent.AllowsHttpRead(context.Request.Headers.Authorization))
                {
                    await Unauthorized().ExecuteAsync(context).ConfigureAwait(false);
                    return;
                }

                if (await CaptureAsync(agent).ConfigureAwait(false) is { } fresh)
                {
                    agent.Metrics.Update(fresh);
                }
            }

            await next(context).ConfigureAwait(false);
        });
        app.MapPrometheusScrapingEndpoint("/metrics");
        app.MapGet("/v1/status", async (HttpRequest request) =>
        {
            if (!agent.AllowsHttpRead(request.Headers.Authorization))
            {
                return Unauthorized();
            }

            var status = await CaptureAsync(agent).ConfigureAwait(false);
            if (status is null)
            {
                return Results.Json(new { error = "starting" }, statusCode: 503);
            }

            return Results.Json(StatusBody(agent, status), Indented);
        });
    }

    /// <summary>The <c>/v1/status</c> document of this agent (also this agent's entry in <c>/v1/mesh</c>).</summary>
    /// <param name="agent">The running agent.</param>
    /// <param name="status">Its status, just captured.</param>
    /// <returns>An object to serialize as JSON.</returns>
    internal static object StatusBody(AgentService agent, AgentStatus status)
    {
        var n = status.Node;
        var latency = agent.Metrics.AppendLatencyCounts();
        return new
        {
            nodeId = n.NodeId,
            version = AgentVersion.Current,
            role = status.RoleName,
            term = n.Term,
            commitIndex = n.CommitIndex,
            appliedIndex = n.AppliedIndex,
            firstIndex = n.FirstIndex,
            lastIndex = n.LastIndex,
            leaderId = n.LeaderId,
            addresses = status.Addresses,
            transport = agent.TransportMode,
            voters = n.Voters,
            learners = n.Learners,
            members = status.Members.Select(m => new { name = m.Name, address = m.Address, state = m.State.ToString().ToLowerInvariant(), incarnation = m.Incarnation }),
            segments = status.SegmentCount,
            logBytes = status.LogBytes,
            replication = status.Progress.ToDictionary(p => p.Key.ToString(CultureInfo.InvariantCulture), p => p.Value),
            appendLatency = new
            {
                count = latency.Sum(),
                p50Ms = Milliseconds(LatencyQuantile(AgentMetrics.AppendLatencyBoundsSeconds, latency, 0.5)),
                p99Ms = Milliseconds(LatencyQuantile(AgentMetrics.AppendLatencyBoundsSeconds, latency, 0.99)),
                boundsSeconds = AgentMetrics.AppendLatencyBoundsSeconds,
                counts = latency,
            },
            consistency = new
            {
                checks = status.Consistency.Checks,
                compared = status.Consistency.RangesCompared,
                mismatches = status.Consistency.Mismatches,
                lastMismatch = status.Consistency.LastMismatch is { } m
                    ? new { node = m.PeerId, firstIndex = m.FirstIndex, lastIndex = m.LastIndex, leaderHash = m.LeaderHash.ToString("x16", CultureInfo.InvariantCulture), peerHash = m.PeerHash.ToString("x16", CultureInfo.InvariantCulture) }
                    : null,
            },
        };
    }

    /// <summary>
    /// The latency below which a fraction <paramref name="q"/> of a histogram's observations fall, interpolated
    /// linearly within the bucket as Prometheus' <c>histogram_quantile</c> does; null without observations.
    /// </summary>
    /// <param name="bounds">Upper bounds of the buckets, seconds.</param>
    /// <param name="counts">Per-bucket counts: one per bound, then the unbounded bucket.</param>
    /// <param name="q">The quantile, 0 to 1.</param>
    /// <returns>Seconds, or null.</returns>
    internal static double? LatencyQuantile(IReadOnlyList<double> bounds, IReadOnlyList<long> counts, double q)
    {
        long total = 0;
        foreach (var c in counts)
        {
            total += c;
        }

        if (total <= 0)
        {
            return null;
        }

        var rank = q * total;
        long below = 0;
        for (var i = 0; i < counts.Count; i++)
        {
            if (counts[i] > 0 && below + counts[i] >= rank)
            {
                if (i >= bounds.Count)
                {
                    return bounds[^1]; // the unbounded bucket: its lower bound is all that is known
                }

                var lower = i == 0 ? 0 : bounds[i - 1];
                return lower + ((bounds[i] - lower) * ((rank - below) / counts[i]));
            }

            below += counts[i];
        }

        return bounds[^1];
    }

    /// <summary>Seconds as milliseconds rounded to the microsecond; null stays null.</summary>
    internal static double? Milliseconds(double? seconds) => seconds is { } s ? Math.Round(s * 1000, 3) : null;

    internal static async Task<AgentStatus?> CaptureAsync(AgentService agent)
    {
        var task = agent.CaptureStatusAsync();
        if (task is null)
        {
            return null;
        }

        try
        {
            return await task.WaitAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            return null;
        }
    }
}
