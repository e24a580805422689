using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Hosting.Systemd;
using Serilog;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Agent.Http;

namespace WalrusGossip.Agent.Hosting;

/// <summary>Builds and runs the agent process on the generic host (Kestrel for HTTP, Serilog for logs, systemd notify when run by systemd).</summary>
public static class AgentHost
{
    /// <summary>Runs until SIGTERM/SIGINT or a fatal node error.</summary>
    /// <param name="args">Command-line flags.</param>
    /// <returns>Exit code: 0 after a clean stop, 1 when the node failed on anything but storage (storage failures are survived in-process, see NodeSupervisor), 2 for invalid configuration.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        AgentOptions options;
        IConfiguration configuration;
        try
        {
            (options, configuration) = AgentConfiguration.Load(args);
        }
        catch (AgentConfigurationException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent: " + e.Message).ConfigureAwait(false);
            return 2;
        }

        try
        {
            Directory.CreateDirectory(options.Node.DataDir);
            using var probe = File.Create(Path.Combine(options.Node.DataDir, ".write-test"), 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"walrus-agent: invalid configuration:\n  Node:DataDir (--data-dir): {options.Node.DataDir} is not writable: {e.Message}").ConfigureAwait(false);
            return 2;
        }

        var raftState = new RaftStateEnricher();
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            builder.Configuration.AddConfiguration(configuration);
            builder.Logging.ClearProviders();
            builder.Services.AddSerilog((_, logging) => AgentLogging.Configure(logging, configuration, options, raftState));
            var notifier = new SystemdNotifier();
            if (notifier.IsEnabled)
            {
                // Type=notify: READY=1 once the ports are bound and the node has joined (SystemdReadiness), STOPPING=1 on SIGTERM.
                builder.Services.AddSingleton<ISystemdNotifier>(notifier);
                builder.Services.AddSingleton<IHostLifetime, SystemdLifetime>();
            }

            AgentOptions.TryParseEndPoint(options.Network.HttpListen, out var httpEndPoint);
            builder.WebHost.UseKestrel(k => k.Listen(httpEndPoint));
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(15));
            builder.Services.AddAgentOptions(configuration);
            builder.Services.AddSingleton(raftState);
            builder.Services.AddSingleton<AgentMetrics>();
            builder.Services.AddAgentTelemetry(options);
            builder.Services.AddAgentHealthChecks();
            builder.Services.AddSingleton<AgentService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AgentService>());
            if (notifier.IsEnabled)
            {
                builder.Services.AddHostedService<SystemdReadiness>();
            }

            await using var app = builder.Build();
            var agent = app.Services.GetRequiredService<AgentService>();
            HttpEndpoints.Map(app, agent);
            await app.RunAsync().ConfigureAwait(false);
            return agent.Failed ? 1 : 0;
        }
        catch (AgentConfigurationException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent: " + e.Message).ConfigureAwait(false);
            return 2;
        }
        catch (OptionsValidationException e)
        {
            await Console.Error.WriteLineAsync("walrus-agent: " + new AgentConfigurationException([.. e.Failures]).Message).ConfigureAwait(false);
            return 2;
        }
        catch (IOException e) when (e.Message.Contains("address already in use", StringComparison.OrdinalIgnoreCase))
        {
            await Console.Error.WriteLineAsync($"walrus-agent: invalid configuration:\n  Network:HttpListen (--http-listen): {e.Message}").ConfigureAwait(false);
            return 2;
        }
        catch (Exception e) when (e is System.Security.Cryptography.CryptographicException)
        {
            await Console.Error.WriteLineAsync($"walrus-agent: invalid configuration:\n  Transport:CertFile/KeyFile/CaFile: cannot load the certificate: {e.Message}").ConfigureAwait(false);
            return 2;
        }
    }
}
