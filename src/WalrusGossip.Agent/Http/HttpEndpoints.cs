using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using WalrusGossip.Agent.Hosting;

namespace WalrusGossip.Agent.Http;

/// <summary>The HTTP port: <c>/health</c>, <c>/ready</c>, <c>/metrics</c> (Prometheus text) and <c>/v1/status</c> (JSON).</summary>
public static class HttpEndpoints
{
    private static IResult Unauthorized() =>
        Results.Text("a token with the read permission is required (Authorization: Bearer TOKEN; Security:HttpRequireToken)\n", statusCode: 401);

    /// <summary>Maps the endpoints.</summary>
    /// <param name="app">The web application.</param>
    /// <param name="agent">The running agent.</param>
    public static void Map(WebApplication app, AgentService agent)
    {
        ArgumentNullException.ThrowIfNull(app);
        ArgumentNullException.ThrowIfNull(agent);
        app.MapGet("/health", () => agent.Loop is { Completion.IsCompleted: false } ? Results.Text("ok\n")
            : agent.StorageFailure is { } failure ? Results.Text($"storage failure, reopening the data directory (attempts {agent.StorageRecoveries.ReopenAttempts}): {failure.Message}\n", statusCode: 503)
            : Results.Text("node loop stopped\n", statusCode: 503));
        app.MapGet("/ready", async () =>
        {
            var status = await CaptureAsync(agent).ConfigureAwait(false);
            return status is { IsReady: true }
                ? Results.Text("ready\n")
                : Results.Text(status is null ? (agent.StorageFailure is { } failure ? $"not ready: storage failure: {failure.Message}\n" : "starting\n") : $"not ready: leader {status.Node.LeaderId}, applied {status.Node.AppliedIndex} of {status.Node.CommitIndex}\n", statusCode: 503);
        });
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

            var n = status.Node;
            return Results.Json(new
            {
                nodeId = n.NodeId,
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
                consistency = new
                {
                    checks = status.Consistency.Checks,
                    compared = status.Consistency.RangesCompared,
                    mismatches = status.Consistency.Mismatches,
                    lastMismatch = status.Consistency.LastMismatch is { } m
                        ? new { node = m.PeerId, firstIndex = m.FirstIndex, lastIndex = m.LastIndex, leaderHash = m.LeaderHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture), peerHash = m.PeerHash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture) }
                        : null,
                },
            }, new JsonSerializerOptions { WriteIndented = true });
        });
    }

    private static async Task<AgentStatus?> CaptureAsync(AgentService agent)
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
