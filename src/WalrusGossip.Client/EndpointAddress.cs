using System.Globalization;
using System.Net;

namespace WalrusGossip.Client;

/// <summary>A parsed <c>host:port</c> client endpoint.</summary>
/// <param name="Host">DNS name or IP address (IPv6 without brackets).</param>
/// <param name="Port">Port, 1 to 65535.</param>
internal readonly record struct EndpointAddress(string Host, int Port)
{
    /// <summary>Parses <c>host:port</c> or <c>[ipv6]:port</c>.</summary>
    /// <param name="text">The endpoint.</param>
    /// <returns>The address.</returns>
    /// <exception cref="ArgumentException">The text is not <c>host:port</c> with a port from 1 to 65535.</exception>
    public static EndpointAddress Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var trimmed = text.Trim();
        var colon = trimmed.LastIndexOf(':');
        if (colon <= 0 || colon == trimmed.Length - 1)
        {
            throw new ArgumentException($"endpoint '{text}' is not host:port", nameof(text));
        }

        var host = trimmed[..colon];
        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (host.Length == 0 || (host.Contains(':', StringComparison.Ordinal) && !IPAddress.TryParse(host, out _)))
        {
            throw new ArgumentException($"endpoint '{text}' is not host:port (write IPv6 addresses as [addr]:port)", nameof(text));
        }

        if (!int.TryParse(trimmed.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port < 1 || port > IPEndPoint.MaxPort)
        {
            throw new ArgumentException($"endpoint '{text}' has no port from 1 to 65535", nameof(text));
        }

        return new EndpointAddress(host, port);
    }

    /// <summary>The canonical <c>host:port</c> text, used as the key of the endpoint's connection.</summary>
    /// <returns>The text.</returns>
    public override string ToString() =>
        Host.Contains(':', StringComparison.Ordinal)
            ? string.Create(CultureInfo.InvariantCulture, $"[{Host}]:{Port}")
            : string.Create(CultureInfo.InvariantCulture, $"{Host}:{Port}");
}
