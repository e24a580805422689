using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using WalrusGossip.Agent.Hosting;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// <c>/health</c> (liveness: the node loop runs) and <c>/ready</c> (readiness: the node knows a leader and has applied
/// everything it knows committed) as checks of the framework's health-check service, tagged <c>live</c> and
/// <c>ready</c>. Each answers 200 or 503 with one line of text: <c>ok</c>, <c>ready</c>, or what is wrong.
/// </summary>
public static class AgentHealthChecks
{
    /// <summary>Registers the two checks.</summary>
    /// <param name="services">The host's services.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddAgentHealthChecks(this IServiceCollection services)
    {
        services.AddHealthChecks()
            .AddCheck<LiveCheck>("node-loop", tags: ["live"])
            .AddCheck<ReadyCheck>("ready", tags: ["ready"]);
        return services;
    }

    /// <summary>Maps <c>/health</c> and <c>/ready</c>.</summary>
    /// <param name="app">The web application.</param>
    public static void MapAgentHealthChecks(this WebApplication app)
    {
        app.MapHealthChecks("/health", Options("live"));
        app.MapHealthChecks("/ready", Options("ready"));
    }

    private static HealthCheckOptions Options(string tag) => new()
    {
        Predicate = c => c.Tags.Contains(tag),
        ResultStatusCodes = { [HealthStatus.Healthy] = 200, [HealthStatus.Degraded] = 503, [HealthStatus.Unhealthy] = 503 },
        ResponseWriter = (context, report) =>
        {
            context.Response.ContentType = "text/plain; charset=utf-8";
            var line = report.Entries.Values.Select(e => e.Description).FirstOrDefault(d => d is not null) ?? report.Status.ToString();
            return context.Response.WriteAsync(line + "\n");
        },
    };

    /// <summary>Healthy while the node loop runs; unhealthy (with the reason) after it stopped or while storage is being reopened.</summary>
    private sealed class LiveCheck(AgentService agent) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(agent.Loop is { Completion.IsCompleted: false } ? HealthCheckResult.Healthy("ok")
                : agent.StorageFailure is { } failure ? HealthCheckResult.Unhealthy($"storage failure, reopening the data directory (attempts {agent.StorageRecoveries.ReopenAttempts}): {failure.Message}")
                : HealthCheckResult.Unhealthy("node loop stopped"));
    }

    /// <summary>Healthy when the node knows a leader and has applied up to its commit index.</summary>
    private sealed class ReadyCheck(AgentService agent) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var status = await HttpEndpoints.CaptureAsync(agent).ConfigureAwait(false);
            return status is { IsReady: true } ? HealthCheckResult.Healthy("ready")
                : status is null ? HealthCheckResult.Unhealthy(agent.StorageFailure is { } failure ? $"not ready: storage failure: {failure.Message}" : "starting")
                : HealthCheckResult.Unhealthy($"not ready: leader {status.Node.LeaderId}, applied {status.Node.AppliedIndex} of {status.Node.CommitIndex}");
        }
    }
}
