using Microsoft.Extensions.Configuration;

namespace WalrusGossip.Agent.Configuration;

/// <summary>Builds and validates the agent's configuration: JSON files, then <c>WALRUS_</c> environment variables, then the command line.</summary>
public static class AgentConfiguration
{
    /// <summary>Command-line flags and the configuration keys they set.</summary>
    public static IDictionary<string, string> SwitchMappings { get; } = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["--node-id"] = "Node:Id",
        ["--data-dir"] = "Node:DataDir",
        ["--client-listen"] = "Network:ClientListen",
        ["--peer-listen"] = "Network:PeerListen",
        ["--gossip-listen"] = "Network:GossipListen",
        ["--http-listen"] = "Network:HttpListen",
        ["--advertise-host"] = "Network:AdvertiseHost",
        ["--join"] = "Cluster:JoinList",
        ["--bootstrap-expect"] = "Cluster:BootstrapExpect",
        ["--transport"] = "Transport:Mode",
        ["--ca"] = "Transport:CaFile",
        ["--cert"] = "Transport:CertFile",
        ["--key"] = "Transport:KeyFile",
        ["--fsync"] = "Storage:Fsync",
        ["--io-engine"] = "Storage:IoEngine",
        ["--config"] = "ConfigFile",
    };

    /// <summary>Loads configuration for <paramref name="args"/>.</summary>
    /// <param name="args">Command-line arguments (flags from <see cref="SwitchMappings"/> or <c>--Section:Key=value</c>).</param>
    /// <returns>The bound options.</returns>
    /// <exception cref="AgentConfigurationException">A flag, key or value is invalid; the message lists every problem.</exception>
    public static (AgentOptions Options, IConfiguration Configuration) Load(string[] args)
    {
        var problems = new List<string>();
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal) && !arg.Contains(':', StringComparison.Ordinal) && !SwitchMappings.ContainsKey(arg.Split('=')[0]))
            {
                problems.Add($"unknown option '{arg}'; known options: {string.Join(", ", SwitchMappings.Keys)}");
            }
        }

        if (problems.Count > 0)
        {
            throw new AgentConfigurationException(problems);
        }

        IConfiguration commandLine;
        try
        {
            commandLine = new ConfigurationBuilder().AddCommandLine(args, SwitchMappings).Build();
        }
        catch (FormatException e)
        {
            throw new AgentConfigurationException([e.Message]);
        }

        var builder = new ConfigurationBuilder();
        var configFile = commandLine["ConfigFile"];
        if (configFile is not null)
        {
            if (!File.Exists(configFile))
            {
                throw new AgentConfigurationException([$"--config: file not found: {configFile}"]);
            }

            builder.AddJsonFile(Path.GetFullPath(configFile), optional: false);
        }

        builder.AddEnvironmentVariables("WALRUS_").AddCommandLine(args, SwitchMappings);
        IConfiguration configuration;
        try
        {
            configuration = builder.Build();
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or IOException)
        {
            throw new AgentConfigurationException([$"cannot read configuration: {e.Message}"]);
        }

        var options = new AgentOptions();
        try
        {
            configuration.Bind(options, o => o.ErrorOnUnknownConfiguration = false);
        }
        catch (InvalidOperationException e)
        {
            throw new AgentConfigurationException([e.Message]);
        }

        var joinList = configuration["Cluster:JoinList"];
        if (!string.IsNullOrWhiteSpace(joinList))
        {
            foreach (var seed in joinList.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                options.Cluster.Join.Add(seed);
            }
        }

        problems.AddRange(UnknownKeys(configuration));
        problems.AddRange(options.Validate());
        if (problems.Count > 0)
        {
            throw new AgentConfigurationException(problems);
        }

        return (options, configuration);
    }

    private static IEnumerable<string> UnknownKeys(IConfiguration configuration)
    {
        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        {
            "ConfigFile", "Serilog", "Logging",
            "Node", "Node:Id", "Node:DataDir",
            "Network", "Network:ClientListen", "Network:PeerListen", "Network:GossipListen", "Network:HttpListen", "Network:AdvertiseHost",
            "Cluster", "Cluster:Join", "Cluster:JoinList", "Cluster:BootstrapExpect", "Cluster:Voters", "Cluster:DeadServerGrace",
            "Cluster:ConsistencyCheckInterval", "Cluster:ConsistencyCheckEntries",
            "Gossip", "Gossip:Keys",
            "Transport", "Transport:Mode", "Transport:CaFile", "Transport:CertFile", "Transport:KeyFile", "Transport:RequireClientCertificates", "Transport:RequirePeerNodeId", "Transport:MaxFrameBytes",
            "Storage", "Storage:Fsync", "Storage:IoEngine", "Storage:MaxSegmentBytes", "Storage:MaxEntryBytes",
            "Storage:CheckpointEveryEntries", "Storage:CheckpointEveryBytes", "Storage:ReserveBytes", "Storage:Retention", "Storage:Retention:MaxBytes", "Storage:Retention:MaxEntries", "Storage:Retention:MaxAge",
            "Security", "Security:RequireClientAuth", "Security:AdminIdentities", "Security:HttpRequireToken",
            "Telemetry", "Telemetry:OtlpEndpoint", "Telemetry:OtlpProtocol", "Telemetry:OtlpExportIntervalMs",
            "Raft", "Raft:TickMs", "Raft:ElectionTicks", "Raft:HeartbeatTicks", "Raft:SnapshotChunkBytes",
        };
        foreach (var pair in configuration.AsEnumerable())
        {
            var key = pair.Key;
            if (key.StartsWith("Serilog", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Logging", StringComparison.OrdinalIgnoreCase) ||
                key.StartsWith("Cluster:Join:", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Security:AdminIdentities:", StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (!known.Contains(key) && pair.Value is not null && IsOurs(key))
            {
                yield return $"unknown configuration key '{key}'";
            }
        }
    }

    /// <summary>Environment variables without the prefix never reach here; JSON and command-line keys with a known section are checked.</summary>
    private static bool IsOurs(string key)
    {
        var section = key.Split(':')[0];
        return section is "Node" or "Network" or "Cluster" or "Transport" or "Storage" or "Raft" or "Security" or "Telemetry";
    }
}

/// <summary>The agent's configuration is invalid; start-up stops with these messages.</summary>
public sealed class AgentConfigurationException : Exception
{
    /// <summary>Creates the exception.</summary>
    /// <param name="problems">One message per problem, each naming the setting.</param>
    public AgentConfigurationException(IReadOnlyList<string> problems)
        : base("invalid configuration:" + Environment.NewLine + "  " + string.Join(Environment.NewLine + "  ", problems)) => Problems = problems;

    /// <summary>Creates the exception with a message.</summary>
    public AgentConfigurationException()
        : this(["invalid configuration"])
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The problem.</param>
    public AgentConfigurationException(string message)
        : this([message])
    {
    }

    /// <summary>Creates the exception with a message and cause.</summary>
    /// <param name="message">The problem.</param>
    /// <param name="inner">The cause.</param>
    public AgentConfigurationException(string message, Exception inner)
        : base(message, inner) => Problems = [message];

    /// <summary>Every problem found.</summary>
    public IReadOnlyList<string> Problems { get; }
}
