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
        BindInto(configuration, options);
        problems.AddRange(Problems(configuration, options));
        if (problems.Count > 0)
        {
            throw new AgentConfigurationException(problems);
        }

        return (options, configuration);
    }

    /// <summary>
    /// Binds <paramref name="configuration"/> onto <paramref name="options"/> (every section, plus the comma-separated
    /// <c>Cluster:JoinList</c> of the <c>--join</c> flag); unknown keys are left to <see cref="Problems"/>.
    /// </summary>
    /// <exception cref="AgentConfigurationException">A value does not convert to its setting's type.</exception>
    internal static void BindInto(IConfiguration configuration, AgentOptions options)
    {
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
    }

    /// <summary>Every problem with bound options: unknown keys first, then <see cref="AgentOptions.Validate"/>'s; each message names its setting.</summary>
    internal static List<string> Problems(IConfiguration configuration, AgentOptions options) => [.. UnknownKeys(configuration), .. options.Validate()];

    /// <summary>Every configuration key <see cref="AgentOptions"/> binds (sections, nested sections and list keys), derived from its properties, plus the command-line-only keys.</summary>
    private static readonly Lazy<(HashSet<string> Keys, List<string> ListPrefixes)> KnownKeys = new(() =>
    {
        var keys = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "ConfigFile", "Cluster:JoinList" };
        var lists = new List<string>();
        void Walk(Type type, string prefix)
        {
            foreach (var property in type.GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance))
            {
                if (!property.CanWrite)
                {
                    continue; // computed values (EffectiveAdminIdentities) are not configuration
                }

                var key = prefix.Length == 0 ? property.Name : prefix + ":" + property.Name;
                keys.Add(key);
                var t = property.PropertyType;
                if (t != typeof(string) && typeof(System.Collections.IEnumerable).IsAssignableFrom(t))
                {
                    lists.Add(key + ":");
                }
                else if (t.IsClass && t != typeof(string))
                {
                    Walk(t, key);
                }
            }
        }

        Walk(typeof(AgentOptions), "");
        return (keys, lists);
    });

    private static IEnumerable<string> UnknownKeys(IConfiguration configuration)
    {
        var (known, lists) = KnownKeys.Value;
        foreach (var pair in configuration.AsEnumerable())
        {
            var key = pair.Key;
            if (key.StartsWith("Serilog", StringComparison.OrdinalIgnoreCase) || key.StartsWith("Logging", StringComparison.OrdinalIgnoreCase) ||
                lists.Any(l => key.StartsWith(l, StringComparison.OrdinalIgnoreCase)))
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
        return typeof(AgentOptions).GetProperty(section, System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.IgnoreCase) is not null; // Node, Network, Cluster, Gossip, Transport, Storage, Raft, Security, Telemetry
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
