using System.CommandLine;
using WalrusGossip.Client;

namespace WalrusGossip.Cli.Cluster;

/// <summary>
/// The global options saying which cluster to talk to and as whom: <c>--endpoints</c> (or <c>WALRUS_ENDPOINTS</c>),
/// <c>--ca</c>, <c>--context</c> (or <c>WALRUS_CONTEXT</c>), <c>--cert</c>/<c>--key</c>, <c>--token</c> (or
/// <c>WALRUS_TOKEN</c>), and <c>--timeout</c>. A flag beats its environment variable, which beats the context file;
/// without a context, <c>.walrus-dev/walrusctl.json</c> in the current directory is used when present (written by
/// <c>walrus-agent dev-cluster</c>).
/// </summary>
internal sealed class ConnectionOptions
{
    public const string EndpointsVariable = "WALRUS_ENDPOINTS";
    public const string ContextVariable = "WALRUS_CONTEXT";
    public const string TokenVariable = "WALRUS_TOKEN";
    public const string TimeoutName = "--timeout";

    private readonly Func<string, string?> _environment;

    /// <param name="environment">Reads environment variables (the process's, or a test's dictionary).</param>
    public ConnectionOptions(Func<string, string?> environment)
    {
        _environment = environment;
    }

    public Option<string?> Endpoints { get; } = new("--endpoints")
    {
        Description = $"Agent client endpoints, comma-separated host:port (default: ${EndpointsVariable}, else from the context file)",
        Recursive = true,
    };

    public Option<string?> Timeout { get; } = new(TimeoutName)
    {
        Description = "Deadline for the whole command, like 500ms, 5s or 2m (a plain number is seconds); on expiry: a 'timed out' message and exit 3",
        Recursive = true,
    };

    public Option<string?> Ca { get; } = new("--ca")
    {
        Description = "PEM file of the cluster CA (default: from the context file)",
        Recursive = true,
    };

    public Option<string?> Context { get; } = new("--context")
    {
        Description = $"Context file with endpoints and CA (default: ${ContextVariable}, else {WalrusContext.DefaultRelativePath} when present)",
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
        Description = $"Bearer token (walrusctl auth token create) for agents requiring client authentication (default: ${TokenVariable})",
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
        root.Options.Add(Timeout);
    }

    /// <summary>True when a flag, an environment variable or the default context file names a cluster.</summary>
    public bool HasCluster(ParseResult parse) =>
        parse.GetValue(Endpoints) is not null || parse.GetValue(Context) is not null
        || !string.IsNullOrWhiteSpace(_environment(EndpointsVariable)) || !string.IsNullOrWhiteSpace(_environment(ContextVariable))
        || File.Exists(WalrusContext.DefaultPath());

    /// <summary>
    /// Builds client options: the context (<c>--context</c>, else <c>WALRUS_CONTEXT</c>, else the default file) first,
    /// then the endpoints (<c>--endpoints</c>, else <c>WALRUS_ENDPOINTS</c>), <c>--ca</c> and the credentials over it.
    /// </summary>
    /// <exception cref="ArgumentException">No endpoints anywhere, or a malformed endpoint.</exception>
    /// <exception cref="FileNotFoundException">The named context file does not exist.</exception>
    /// <exception cref="InvalidDataException">The context file is invalid.</exception>
    public WalrusClientOptions Resolve(ParseResult parse)
    {
        var options = new WalrusClientOptions { ClientName = "walrusctl" };
        var (contextPath, contextSource) = parse.GetValue(Context) is { } flag
            ? (flag, "--context")
            : NonEmpty(_environment(ContextVariable)) is { } variable ? (variable, ContextVariable) : (null, null);
        var context = contextPath is not null
            ? WalrusContext.Load(File.Exists(contextPath) ? contextPath : throw new FileNotFoundException($"context file {contextPath} ({contextSource}) does not exist", contextPath))
            : WalrusContext.TryLoadDefault();
        context?.ApplyTo(options);
        if ((parse.GetValue(Endpoints) ?? NonEmpty(_environment(EndpointsVariable))) is { } endpoints)
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

        var token = parse.GetValue(Token) ?? _environment(TokenVariable);
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
                $"no cluster to talk to: pass --endpoints host:port[,...] or --context FILE (or set {EndpointsVariable} or {ContextVariable}), or start 'walrus-agent dev-cluster' here (it writes {WalrusContext.DefaultRelativePath})");
        }

        return options;
    }

    private static string? NonEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value;
}
