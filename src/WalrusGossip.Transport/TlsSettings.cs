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
    private readonly SslStreamCertificateContext? _certificateContext;

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

    public SslServerAuthenticationOptions ServerOptions() => new()
    {
        ServerCertificateContext = _certificateContext
            ?? throw new InvalidOperationException("Listening needs Transport:Certificate (a certificate with its private key)."),
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = Protocols,
        ClientCertificateRequired = _options.RequireClientCertificate,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateRemote(certificate, chain, errors, remoteIsServer: false),
    };

    public SslClientAuthenticationOptions ClientOptions(string host) => new()
    {
        TargetHost = host,
        ClientCertificateContext = _certificateContext,
        EnabledSslProtocols = SslProtocols.Tls13,
        ApplicationProtocols = Protocols,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        AllowRenegotiation = false,
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) => ValidateRemote(certificate, chain, errors, remoteIsServer: true),
    };

    private bool ValidateRemote(X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors, bool remoteIsServer)
    {
        if (certificate is null)
        {
            // A server always presents one; a client only when the listener asked for it.
            var allowed = !remoteIsServer && !_options.RequireClientCertificate;
            if (!allowed)
            {
                LogRefused(_logger, remoteIsServer ? "server" : "client", "no certificate presented");
            }

            return allowed;
        }

        if (remoteIsServer && _options.ValidateRemoteName && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
        {
            LogRefused(_logger, "server", $"certificate {certificate.Subject} does not name the dialled host");
            return false;
        }

        if (_options.TrustedRoots is not { } roots)
        {
            var remaining = errors & ~SslPolicyErrors.RemoteCertificateNameMismatch;
            if (remaining != SslPolicyErrors.None)
            {
                LogRefused(_logger, remoteIsServer ? "server" : "client", $"{certificate.Subject}: {remaining}");
            }

            return remaining == SslPolicyErrors.None;
        }

        return ChainsToTrustedRoots(certificate, presented, roots, remoteIsServer ? ServerAuthOid : ClientAuthOid);
    }

    private bool ChainsToTrustedRoots(X509Certificate certificate, X509Chain? presented, X509Certificate2Collection roots, string requiredUsageOid)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(requiredUsageOid));
        if (presented is not null)
        {
            foreach (var element in presented.ChainElements)
            {
                chain.ChainPolicy.ExtraStore.Add(element.Certificate);
            }
        }

        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        try
        {
            if (chain.Build(leaf))
            {
                return true;
            }

            var reasons = string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()));
            LogRefused(_logger, requiredUsageOid == ServerAuthOid ? "server" : "client", $"certificate {leaf.Subject} does not chain to the cluster CA: {reasons}");
            return false;
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, leaf))
                {
                    element.Certificate.Dispose();
                }
            }

            if (!ReferenceEquals(leaf, certificate))
            {
                leaf.Dispose();
            }
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Warning, Message = "TLS: refused the {Side}'s certificate: {Reason}")]
    private static partial void LogRefused(ILogger logger, string side, string reason);
}
