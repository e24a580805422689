using System.Globalization;
using Microsoft.Extensions.Configuration;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Settings.Configuration;
using WalrusGossip.Agent.Configuration;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// The agent's Serilog pipeline: defaults (Information, Microsoft.* at Warning, a console sink and a daily file under
/// <c>DataDir/logs</c>), then the <c>Serilog</c> configuration section on top (<c>MinimumLevel</c>, <c>Override</c>,
/// <c>WriteTo</c>, <c>Enrich</c>, as documented by Serilog.Settings.Configuration). A <c>Serilog:WriteTo</c> section
/// replaces the default sinks. Every event carries <c>node</c>, <c>term</c> and <c>role</c>.
/// </summary>
/// <remarks>
/// Under systemd (<c>JOURNAL_STREAM</c> set) the console lines carry no timestamp (journald adds one) and start with
/// the sd-daemon priority prefix <c>&lt;N&gt;</c> (sd-daemon(3)), so <c>journalctl -p warning</c> filters by level.
/// </remarks>
public static class AgentLogging
{
    private const string Template = "node={node} term={term} role={role} {SourceContext}: {Message:lj}{NewLine}{Exception}";

    /// <summary>Configures <paramref name="logging"/> for one agent.</summary>
    /// <param name="logging">The configuration to fill.</param>
    /// <param name="configuration">The agent's configuration; its <c>Serilog</c> section is read.</param>
    /// <param name="options">The bound agent options (node id, data directory).</param>
    /// <param name="raftState">Supplies the current term and role.</param>
    /// <returns><paramref name="logging"/>.</returns>
    /// <exception cref="InvalidOperationException">The <c>Serilog</c> section names an unknown sink or level (Serilog.Settings.Configuration).</exception>
    public static LoggerConfiguration Configure(LoggerConfiguration logging, IConfiguration configuration, AgentOptions options, RaftStateEnricher raftState)
    {
        ArgumentNullException.ThrowIfNull(logging);
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(options);
        logging.MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.WithProperty("node", options.Node.Id)
            .Enrich.With(raftState)
            .ReadFrom.Configuration(configuration, new ConfigurationReaderOptions(typeof(ConsoleLoggerConfigurationExtensions).Assembly, typeof(FileLoggerConfigurationExtensions).Assembly));
        if (configuration.GetSection("Serilog:WriteTo").Exists())
        {
            return logging;
        }

        var invariant = CultureInfo.InvariantCulture;
        if (Environment.GetEnvironmentVariable("JOURNAL_STREAM") is not null)
        {
            logging.Enrich.With(new JournaldPriority()).WriteTo.Console(outputTemplate: "<{priority}>" + Template, formatProvider: invariant);
        }
        else
        {
            logging.WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} [{Level:u3}] " + Template, formatProvider: invariant);
        }

        return logging.WriteTo.File(Path.Combine(options.Node.DataDir, "logs", "agent-.log"), rollingInterval: RollingInterval.Day, retainedFileCountLimit: 7,
            outputTemplate: "{Timestamp:o} [{Level:u3}] " + Template, formatProvider: invariant);
    }

    /// <summary>Adds <c>priority</c>: the syslog severity of the event's level (3 error, 4 warning, 6 info, 7 debug; RFC 5424 §6.2.1).</summary>
    private sealed class JournaldPriority : ILogEventEnricher
    {
        public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory) =>
            logEvent.AddPropertyIfAbsent(propertyFactory.CreateProperty("priority", logEvent.Level switch
            {
                LogEventLevel.Fatal => 2,
                LogEventLevel.Error => 3,
                LogEventLevel.Warning => 4,
                LogEventLevel.Information => 6,
                _ => 7,
            }));
    }
}
