using System.CommandLine;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// The global options saying which cluster to talk to: <c>--endpoints</c>, <c>--ca</c>, <c>--context</c>. Without
/// any, <c>.walrus-dev/walrusctl.json</c> in the current directory is used when present (written by
/// <c>walrus-agent dev-cluster</c>).
/// </summary>
internal sealed class ConnectionOptions
{
    public Option<string?> Endpoints { get; } = new("--endpoints")
    {
        Description = "Agent client endpoints, comma-separated host:port (default: from the context file)",
        Recursive = true,
    };

    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = "PEM file of the cluster CA (default: from the context file)",
        Recursive = true,
    };

    public Option<string?> Context { get; } = new("--context")
    {
        Description = $"Context file with endpoints and CA (default: {WalrusContext.DefaultRelativePath} when present)",
        Recursive = true,
    };

    public void AddTo(Command root)
    {
        root.Options.Add(Endpoints);
        root.Options.Add(Ca);
        root.Options.Add(Context);
    }

    /// <summary>Builds client options: the named or default context first, then <c>--endpoints</c> and <c>--ca</c> over it.</summary>
    /// <exception cref="ArgumentException">No endpoints anywhere, or a malformed endpoint.</exception>
    /// <exception cref="FileNotFoundException">The named context file does not exist.</exception>
    /// <exception cref="InvalidDataException">The context file is invalid.</exception>
    public WalrusClientOptions Resolve(ParseResult parse)
    {
        var options = new WalrusClientOptions { ClientName = "walrusctl" };
        var contextPath = parse.GetValue(Context);
        var context = contextPath is not null
            ? WalrusContext.Load(File.Exists(contextPath) ? contextPath : throw new FileNotFoundException($"context file {contextPath} does not exist", contextPath))
            : WalrusContext.TryLoadDefault();
        context?.ApplyTo(options);
        if (parse.GetValue(Endpoints) is { } endpoints)
        {
            options.Endpoints = [.. endpoints.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
        }

        if (parse.GetValue(Ca) is { } ca)
        {
            options.CaFile = Path.GetFullPath(ca);
        }

        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException(
                $"no cluster to talk to: pass --endpoints host:port[,...] or --context FILE, or start 'walrus-agent dev-cluster' here (it writes {WalrusContext.DefaultRelativePath})");
        }

        return options;
    }
}
