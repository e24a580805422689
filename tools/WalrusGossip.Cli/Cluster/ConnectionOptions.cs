using System.CommandLine;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// The global options saying which cluster to talk to and as whom: <c>--endpoints</c>, <c>--ca</c>, <c>--context</c>,
/// <c>--cert</c>/<c>--key</c>, <c>--token</c> (or <c>WALRUS_TOKEN</c>). Without
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

    public Option<string?> Cert { get; } = new("--cert")
    {
        Description = "PEM file of the client certificate (default: from the context file; dev-cluster's is the admin certificate)",
        Recursive = true,
    };

    public Option<string?> Key { get; } = new("--key")
    {
        Description = "PEM file of the client certificate's private key (default: from the context file)",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Bearer token (walrusctl auth token create) for agents requiring client authentication (default: $WALRUS_TOKEN)",
        Recursive = true,
    };

    public void AddTo(Command root)
    {
        root.Options.Add(Endpoints);
        root.Options.Add(Ca);
        root.Options.Add(Context);
        root.Options.Add(Cert);
        root.Options.Add(Key);
        root.Options.Add(Token);
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

        if (parse.GetValue(Cert) is { } cert)
        {
            options.ClientCertificateFile = Path.GetFullPath(cert);
            options.ClientKeyFile = parse.GetValue(Key) is { } key ? Path.GetFullPath(key) : null;
        }
        else if (parse.GetValue(Key) is not null)
        {
            throw new ArgumentException("--key needs --cert");
        }

        var token = parse.GetValue(Token) ?? Environment.GetEnvironmentVariable("WALRUS_TOKEN");
        if (!string.IsNullOrEmpty(token))
        {
            options.Token = token;
            if (parse.GetValue(Cert) is null)
            {
                options.ClientCertificateFile = null; // the token is the identity; the context's certificate would be ignored anyway
                options.ClientKeyFile = null;
            }
        }

        if (options.Endpoints.Count == 0)
        {
            throw new ArgumentException(
                $"no cluster to talk to: pass --endpoints host:port[,...] or --context FILE, or start 'walrus-agent dev-cluster' here (it writes {WalrusContext.DefaultRelativePath})");
        }

        return options;
    }
}
