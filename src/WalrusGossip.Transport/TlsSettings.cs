using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using WalrusGossip.Protocol;

namespace WalrusGossip.Transport;

/// <summary>
/// TLS 1.3 settings shared by both transports: ALPN <c>walrus/1</c>, and certificate validation against the cluster
/// CA with <see cref="X509ChainTrustMode.CustomRootTrust"/> when <see cref="TransportOptions.TrustedRoots"/> is set.
/// </summary>
internal sealed partial class TlsSettings
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";
    private static readonly List<SslApplicationProtocol> Protocols = [new SslApplicationProtocol(ProtocolVersion.Alpn)];

    private readonly TransportOptions _options;
    private readonly ILogger _logger;
    private volatile SslStreamCertificateContext? _certificateContext;

    public TlsSettings(TransportOptions options, ILogger logger)
    {
        _options = options;
        _logger = logger;
        if (options.Certificate is { } certificate)
        {
            _certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        }
    }

    public static SslApplicationProtocol Alpn { get; } = new(ProtocolVersion.Alpn);

    /// <summary>The certificate new handshakes present (replaced by <see cref="Reload"/>); null when none.</summary>
    public X509Certificate2? Certificate => _certificateContext?.TargetCertificate;

    /// <summary>Presents <paramref name="certificate"/> from the next handshake on; open connections keep theirs.</summary>
    /// <exception cref="ArgumentException">The certificate has no private key.</exception>
    public void Reload(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException($"certificate {certificate.Subject} has no private key", nameof(certificate));
        }

        _certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = _certificateContext
            ?? throw new InvalidOperationException("Listening needs Transport:Certificate (a certificate with its private key)."),
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = Protocols,
        ClientCertificateRequired = _options.RequireClientCertificate || _options.RequestClientCertificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        CertificateChainPolicy = ChainPolicy(ClientAuthOid),
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = (_, certificate, _, errors) => ValidateRemote(certificate, errors, remoteIsServer: false),
    };

    public SslClientAuthenticationOptions ClientOptions(string host) => new()
    {
        TargetHost = host,
        ClientCertificateContext = _certificateContext,
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        CertificateChainPolicy = ChainPolicy(ServerAuthOid),
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = (_, certificate, _, errors) => ValidateRemote(certificate, errors, remoteIsServer: true),
    };

    /// <summary>
    /// With <see cref="TransportOptions.TrustedRoots"/>, SslStream builds the remote chain against the cluster CA only
    /// (custom root trust, no OS store, no downloads) and requires the TLS usage the remote side plays; the callback
    /// then sees the verdict in its <see cref="SslPolicyErrors"/>.
    /// </summary>
    private X509ChainPolicy? ChainPolicy(string requiredUsageOid)
    {
        if (_options.TrustedRoots is not { } roots)
        {
            return null;
        }

        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            DisableCertificateDownloads = true,
        };
        policy.CustomTrustStore.AddRange(roots);
        policy.ApplicationPolicy.Add(new Oid(requiredUsageOid));
        return policy;
    }

    private bool ValidateRemote(X509Certificate? certificate, SslPolicyErrors errors, bool remoteIsServer)
    {
        var side = remoteIsServer ? "server" : "client";
        if (certificate is null)
        {
            // A server always presents one; a client only when the listener asked for it.
            var allowed = !remoteIsServer && !_options.RequireClientCertificate;
            if (!allowed)
            {
                LogRefused(_logger, side, "no certificate presented");
            }

            return allowed;
        }

        // Only a client checks the name: it knows which host it dialled.
        var ignored = remoteIsServer && _options.ValidateRemoteName ? SslPolicyErrors.None : SslPolicyErrors.RemoteCertificateNameMismatch;
        var remaining = errors & ~ignored & ~SslPolicyErrors.RemoteCertificateNotAvailable;
        if (remaining == SslPolicyErrors.None)
        {
            return true;
        }

        var trust = _options.TrustedRoots is null ? "the operating system's trust store" : "the cluster CA";
        LogRefused(_logger, side, $"certificate {certificate.Subject} ({remaining}) is not trusted by {trust} or does not name the dialled host");
        return false;
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "TLS: refused the {Side}'s certificate: {Reason}")]
    private static partial void LogRefused(ILogger logger, string side, string reason);
}
