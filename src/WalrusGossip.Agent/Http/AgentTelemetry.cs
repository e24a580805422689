using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Agent.Hosting;
using WalrusGossip.Storage;

namespace WalrusGossip.Agent.Http;

/// <summary>
/// OpenTelemetry metrics for the agent: the meters <see cref="AgentMetrics.MeterName"/> and
/// <see cref="GroupCommitHistogram.MeterName"/>, the runtime's own <c>System.Runtime</c> meter (GC, thread pool,
/// JIT, process CPU and memory) and Kestrel's, exported on <c>/metrics</c> for Prometheus and, with
/// <c>Telemetry:OtlpEndpoint</c>, over OTLP.
/// </summary>
public static class AgentTelemetry
{
    /// <summary>Registers the meter provider and its exporters.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="options">The agent options (node id; the Telemetry section).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddAgentTelemetry(this IServiceCollection services, AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService("walrus-agent", serviceVersion: AgentVersion.Current, serviceInstanceId: options.Node.Id.ToString(CultureInfo.InvariantCulture)))
            .WithMetrics(metrics =>
            {
                metrics.AddMeter(AgentMetrics.MeterName, GroupCommitHistogram.MeterName, "System.Runtime", "Microsoft.AspNetCore.Server.Kestrel")
                    .AddView("walrus_append_latency_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = [.. AgentMetrics.LatencyBucketsSeconds] })
                    .AddView("walrus_log_fsync_seconds", new ExplicitBucketHistogramConfiguration { Boundaries = [.. GroupCommitHistogram.BoundsSeconds] })
                    .AddPrometheusExporter(p =>
                    {
                        p.DisableTotalNameSuffixForCounters = true; // the names already end in _total
                        p.ScrapeResponseCacheDurationMilliseconds = 0; // every scrape reads the instruments
                    });
                if (!string.IsNullOrEmpty(options.Telemetry.OtlpEndpoint))
                {
                    metrics.AddOtlpExporter((exporter, reader) =>
                    {
                        exporter.Endpoint = new Uri(options.Telemetry.OtlpEndpoint);
                        exporter.Protocol = options.Telemetry.OtlpProtocol == "http" ? OtlpExportProtocol.HttpProtobuf : OtlpExportProtocol.Grpc;
                        reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = options.Telemetry.OtlpExportIntervalMs;
                    });
                }
            });
        return services;
    }
}
