using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Serilog;
using Serilog.Events;
using WalrusGossip.Agent.Configuration;
using WalrusGossip.Agent.Http;

namespace WalrusGossip.Agent.Hosting;

/// <summary>Builds and runs the agent process on the generic host (Kestrel for HTTP, Serilog for logs).</summary>
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
        var serilog = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.WithProperty("node", options.Node.Id)
            .Enrich.With(raftState)
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} [{Level:u3}] node={node} term={term} role={role} {SourceContext}: {Message:lj}{NewLine}{Exception}", formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .WriteTo.File(Path.Combine(options.Node.DataDir, "logs", "agent-.log"), rollingInterval: RollingInterval.Day, retainedFileCountLimit: 7,
                outputTemplate: "{Timestamp:o} [{Level:u3}] node={node} term={term} role={role} {SourceContext}: {Message:lj}{NewLine}{Exception}", formatProvider: System.Globalization.CultureInfo.InvariantCulture)
            .CreateLogger();
        try
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
            builder.Configuration.AddConfiguration(configuration);
            builder.Logging.ClearProviders();
            builder.Logging.AddSerilog(serilog, dispose: false);
            AgentOptions.TryParseEndPoint(options.Network.HttpListen, out var httpEndPoint);
            builder.WebHost.UseKestrel(k => k.Listen(httpEndPoint));
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(15));
            builder.Services.AddSingleton(options);
            builder.Services.AddSingleton(raftState);
            builder.Services.AddSingleton<AgentMetrics>();
            builder.Services.AddSingleton<AgentService>();
            builder.Services.AddHostedService(sp => sp.GetRequiredService<AgentService>());
            var app = builder.Build();
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
        finally
        {
            await serilog.DisposeAsync().ConfigureAwait(false);
        }
    }
}
