using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using WalrusGossip.Transport;

namespace WalrusGossip.Agent.Hosting;

/// <summary>
/// Certificate rotation without a restart: on SIGHUP (systemd's <c>ExecReload</c>) the agent reads
/// <c>Transport:CertFile</c>/<c>KeyFile</c> again and, when the new certificate is valid now, chains to the cluster CA
/// and still names this node's id (if the old one did), presents it in every new handshake of the peer, client and
/// forwarding transports; open connections keep theirs. A certificate that fails a check is refused and logged, and
/// the old one stays. Its expiry is published as <c>walrus_tls_certificate_expiry_seconds</c>.
/// </summary>
public sealed partial class AgentService
{
    private readonly List<ITransport> _certificateUsers = [];
    private X509Certificate2Collection? _trustedRoots;
    private PosixSignalRegistration? _sighup;
    private long _certificateReloads;
    private long _certificateReloadFailures;

    /// <summary>The certificate the agent presents now (null before start).</summary>
    public X509Certificate2? PresentedCertificate => _certificateUsers.Count == 0 ? null : _certificateUsers[0].Certificate;

    /// <summary>Certificate reloads that took effect, and ones refused, since start.</summary>
    public (long Reloaded, long Refused) CertificateReloads => (Interlocked.Read(ref _certificateReloads), Interlocked.Read(ref _certificateReloadFailures));

    /// <summary>Remembers the transports that present this agent's certificate and starts listening for SIGHUP.</summary>
    private void TrackCertificate(X509Certificate2Collection roots, params ITransport[] transports)
    {
        _trustedRoots = roots;
        _certificateUsers.AddRange(transports);
        if (!OperatingSystem.IsWindows())
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // SIGHUP reloads; it does not stop the agent
                ReloadCertificate();
            });
        }
    }

    /// <summary>Reads the certificate files again and swaps the certificate in when it passes every check.</summary>
    /// <returns>Null when it took effect, else why it was refused.</returns>
    public string? ReloadCertificate()
    {
        string? refusal;
        X509Certificate2? fresh = null;
        try
        {
            fresh = DevCertificates.LoadPem(_options.Transport.CertFile, _options.Transport.KeyFile);
            refusal = CheckCertificate(fresh, PresentedCertificate);
        }
        catch (Exception e) when (e is IOException or CryptographicException or ArgumentException or UnauthorizedAccessException)
        {
            refusal = e.Message;
        }

        if (refusal is not null)
        {
            fresh?.Dispose();
            Interlocked.Increment(ref _certificateReloadFailures);
            LogCertificateRefused(_logger, _options.Transport.CertFile, refusal);
            return refusal;
        }

        foreach (var transport in _certificateUsers)
        {
            transport.ReloadCertificate(fresh!);
        }

        Interlocked.Increment(ref _certificateReloads);
        LogCertificateReloaded(_logger, fresh!.Subject, fresh.NotAfter.ToUniversalTime());
        return null;
    }

    private string? CheckCertificate(X509Certificate2 fresh, X509Certificate2? current)
    {
        var now = DateTime.UtcNow;
        if (fresh.NotBefore.ToUniversalTime() > now || fresh.NotAfter.ToUniversalTime() <= now)
        {
            return $"it is not valid now (valid {fresh.NotBefore.ToUniversalTime():u} to {fresh.NotAfter.ToUniversalTime():u})";
        }

        if (current is not null && NodeIdentity.TryGetNodeId(current, out var id) && (!NodeIdentity.TryGetNodeId(fresh, out var freshId) || freshId != id))
        {
            return $"it does not name this node ({NodeIdentity.UriPrefix}{id})";
        }

        if (_trustedRoots is { Count: > 0 } roots)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.DisableCertificateDownloads = true;
            chain.ChainPolicy.CustomTrustStore.AddRange(roots);
            if (!chain.Build(fresh))
            {
                return "it does not chain to the cluster CA (Transport:CaFile)";
            }
        }

        return null;
    }

    [LoggerMessage(EventId = 30, Level = LogLevel.Warning, Message = "TLS certificate reloaded: now presenting {Subject}, valid until {NotAfter:u}")]
    private static partial void LogCertificateReloaded(ILogger logger, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 31, Level = LogLevel.Error, Message = "TLS certificate {Path} not reloaded: {Reason}; the current certificate stays")]
    private static partial void LogCertificateRefused(ILogger logger, string path, string reason);
}
