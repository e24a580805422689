using System.Text.Json;
using System.Text.Json.Serialization;

namespace WalrusGossip.Client;

/// <summary>
/// A client context file (<c>walrusctl.json</c>): where the agents are and how to trust them. <c>walrus-agent
/// dev-cluster</c> writes one to <c>.walrus-dev/walrusctl.json</c>; walrusctl and applications read it.
/// </summary>
/// <remarks>
/// Format (relative paths resolve against the directory holding the file):
/// <code>
/// {
///   "endpoints": ["127.0.0.1:7101", "127.0.0.1:7102", "127.0.0.1:7103"],
///   "ca": "certs/ca.pem",
///   "clientCert": null,
///   "clientKey": null,
///   "transport": "auto"
/// }
/// </code>
/// Only <c>endpoints</c> is required; <c>transport</c> is <c>auto</c>, <c>quic</c> or <c>tcp</c> (default auto).
/// </remarks>
public sealed class WalrusContext
{
    /// <summary>Where walrusctl looks when given no endpoints: <c>.walrus-dev/walrusctl.json</c> under the current directory.</summary>
    public const string DefaultRelativePath = ".walrus-dev/walrusctl.json";

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        PropertyNameCaseInsensitive = true,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private WalrusContext(string path, IReadOnlyList<string> endpoints, string? caFile, string? clientCertificateFile, string? clientKeyFile, Transport.TransportMode transportMode)
    {
        Path = path;
        Endpoints = endpoints;
        CaFile = caFile;
        ClientCertificateFile = clientCertificateFile;
        ClientKeyFile = clientKeyFile;
        TransportMode = transportMode;
    }

    /// <summary>Full path of the file this context was loaded from.</summary>
    public string Path { get; }

    /// <summary>Agent client endpoints, <c>host:port</c>; at least one.</summary>
    public IReadOnlyList<string> Endpoints { get; }

    /// <summary>Full path of the cluster CA PEM file, or null to trust the operating system's store.</summary>
    public string? CaFile { get; }

    /// <summary>Full path of the client certificate PEM file, or null.</summary>
    public string? ClientCertificateFile { get; }

    /// <summary>Full path of the client key PEM file, or null.</summary>
    public string? ClientKeyFile { get; }

    /// <summary>Transport the agents use.</summary>
    public Transport.TransportMode TransportMode { get; }

    /// <summary>The default context file's full path under <paramref name="directory"/> (default: the current directory).</summary>
    /// <param name="directory">Directory to look in, or null for the current directory.</param>
    /// <returns>The path; the file may not exist.</returns>
    public static string DefaultPath(string? directory = null) =>
        System.IO.Path.GetFullPath(System.IO.Path.Combine(directory ?? Directory.GetCurrentDirectory(), DefaultRelativePath));

    /// <summary>Loads the default context file when it exists.</summary>
    /// <param name="directory">Directory to look in, or null for the current directory.</param>
    /// <returns>The context, or null when there is no default context file.</returns>
    /// <exception cref="InvalidDataException">The file exists but is not a valid context.</exception>
    public static WalrusContext? TryLoadDefault(string? directory = null)
    {
        var path = DefaultPath(directory);
        return File.Exists(path) ? Load(path) : null;
    }

    /// <summary>Loads a context file.</summary>
    /// <param name="path">The <c>walrusctl.json</c> file.</param>
    /// <returns>The context, with file paths made absolute against the file's directory.</returns>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON, has no endpoints, or has a bad endpoint or transport.</exception>
    public static WalrusContext Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var fullPath = System.IO.Path.GetFullPath(path);
        ContextFile? file;
        try
        {
            file = JsonSerializer.Deserialize<ContextFile>(File.ReadAllText(fullPath), JsonOptions);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{fullPath}: not a valid context file: {e.Message}", e);
        }

        if (file?.Endpoints is not { Count: > 0 } endpoints)
        {
            throw new InvalidDataException($"{fullPath}: \"endpoints\" must list at least one host:port");
        }

        foreach (var endpoint in endpoints)
        {
            try
            {
                _ = EndpointAddress.Parse(endpoint ?? string.Empty);
            }
            catch (ArgumentException e)
            {
                throw new InvalidDataException($"{fullPath}: {e.Message}", e);
            }
        }

        var mode = Transport.TransportMode.Auto;
        if (file.Transport is { Length: > 0 } transport && !Enum.TryParse(transport, ignoreCase: true, out mode))
        {
            throw new InvalidDataException($"{fullPath}: \"transport\" must be auto, quic or tcp, not '{transport}'");
        }

        var directory = System.IO.Path.GetDirectoryName(fullPath)!;
        return new WalrusContext(fullPath, [.. endpoints], Resolve(directory, file.Ca), Resolve(directory, file.ClientCert), Resolve(directory, file.ClientKey), mode);
    }

    /// <summary>Copies this context into client options: endpoints, CA, client certificate and transport.</summary>
    /// <param name="options">The options to fill in.</param>
    public void ApplyTo(WalrusClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Endpoints = [.. Endpoints];
        options.CaFile = CaFile;
        options.ClientCertificateFile = ClientCertificateFile;
        options.ClientKeyFile = ClientKeyFile;
        options.TransportMode = TransportMode;
    }

    private static string? Resolve(string directory, string? path) =>
        string.IsNullOrWhiteSpace(path) ? null : System.IO.Path.GetFullPath(System.IO.Path.Combine(directory, path));

    private sealed class ContextFile
    {
        [JsonPropertyName("endpoints")]
        public List<string>? Endpoints { get; set; }

        [JsonPropertyName("ca")]
        public string? Ca { get; set; }

        [JsonPropertyName("clientCert")]
        public string? ClientCert { get; set; }

        [JsonPropertyName("clientKey")]
        public string? ClientKey { get; set; }

        [JsonPropertyName("transport")]
        public string? Transport { get; set; }
    }
}
