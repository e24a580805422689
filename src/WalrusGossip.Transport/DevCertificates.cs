using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace WalrusGossip.Transport;

/// <summary>
/// Creates a cluster CA and node certificates (ECDSA P-256) for development clusters and <c>walrusctl certs init</c>,
/// and reads and writes them as PEM files. Production deployments may use any CA whose certificates carry the
/// same extensions.
/// </summary>
public static class DevCertificates
{
    private const string ServerAuthOid = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>Default validity of a CA: 10 years.</summary>
    public static readonly TimeSpan DefaultCaValidity = TimeSpan.FromDays(3650);

    /// <summary>Default validity of a node certificate: 2 years.</summary>
    public static readonly TimeSpan DefaultNodeValidity = TimeSpan.FromDays(730);

    /// <summary>Creates a self-signed certificate authority.</summary>
    /// <param name="name">Common name, for example "walrus-dev-ca".</param>
    /// <param name="validity">How long it is valid from now; default <see cref="DefaultCaValidity"/>.</param>
    /// <returns>The CA certificate with its private key.</returns>
    public static X509Certificate2 CreateCa(string name, TimeSpan? validity = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(name)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: true, hasPathLengthConstraint: true, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign | X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = DateTimeOffset.UtcNow;
        return Persist(request.CreateSelfSigned(now.AddMinutes(-5), now + (validity ?? DefaultCaValidity)));
    }

    /// <summary>
    /// Creates a node certificate signed by <paramref name="ca"/>, usable both as TLS server and client certificate
    /// (mutual TLS between peers). Its subject alternative names are <paramref name="dnsNames"/>,
    /// <paramref name="ips"/>, and always <c>localhost</c>, 127.0.0.1 and ::1.
    /// </summary>
    /// <param name="ca">The CA, with its private key.</param>
    /// <param name="nodeName">Common name, normally the node id or name.</param>
    /// <param name="dnsNames">DNS names the node is dialled by.</param>
    /// <param name="ips">IP addresses the node is dialled by.</param>
    /// <param name="validity">How long it is valid from now; default <see cref="DefaultNodeValidity"/>, never beyond the CA.</param>
    /// <param name="nodeId">The node's Raft id, carried as the SAN URI <c>walrus://node/ID</c> (<see cref="NodeIdentity"/>);
    /// 0 for none (a client or a tool certificate).</param>
    /// <returns>The certificate with its private key.</returns>
    /// <exception cref="ArgumentException">The CA has no private key.</exception>
    public static X509Certificate2 CreateNodeCertificate(X509Certificate2 ca, string nodeName, IEnumerable<string> dnsNames, IEnumerable<IPAddress> ips, TimeSpan? validity = null, ulong nodeId = 0)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentException.ThrowIfNullOrWhiteSpace(nodeName);
        ArgumentNullException.ThrowIfNull(dnsNames);
        ArgumentNullException.ThrowIfNull(ips);
        if (!ca.HasPrivateKey)
        {
            throw new ArgumentException($"CA {ca.Subject} has no private key.", nameof(ca));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = LeafRequest(ca, nodeName, key, [new Oid(ServerAuthOid), new Oid(ClientAuthOid)]);

        var san = new SubjectAlternativeNameBuilder();
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost" };
        names.UnionWith(dnsNames.Where(n => !string.IsNullOrWhiteSpace(n)));
        foreach (var name in names)
        {
            san.AddDnsName(name);
        }

        var addresses = new HashSet<IPAddress> { IPAddress.Loopback, IPAddress.IPv6Loopback };
        addresses.UnionWith(ips);
        foreach (var address in addresses)
        {
            san.AddIpAddress(address);
        }

        if (nodeId != 0)
        {
            san.AddUri(NodeIdentity.UriFor(nodeId));
        }

        request.CertificateExtensions.Add(san.Build());

        return Sign(ca, request, key, validity);
    }

    /// <summary>
    /// Issues a client certificate (ECDSA P-256, client-auth usage only) naming the client identity
    /// <paramref name="identity"/> in its common name and its SAN URI <c>walrus://client/IDENTITY</c>: the identity the
    /// agents authorize (Security:AdminIdentities, <c>walrusctl auth grant</c>).
    /// </summary>
    /// <param name="ca">The CA, with its private key.</param>
    /// <param name="identity">Client identity, for example <c>admin</c>.</param>
    /// <param name="validity">Lifetime; default the node default, never past the CA's.</param>
    /// <returns>The certificate with its private key.</returns>
    /// <exception cref="ArgumentException">The CA has no private key, or the identity is empty.</exception>
    public static X509Certificate2 CreateClientCertificate(X509Certificate2 ca, string identity, TimeSpan? validity = null)
    {
        ArgumentNullException.ThrowIfNull(ca);
        ArgumentException.ThrowIfNullOrWhiteSpace(identity);
        if (!ca.HasPrivateKey)
        {
            throw new ArgumentException($"CA {ca.Subject} has no private key.", nameof(ca));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = LeafRequest(ca, identity, key, [new Oid(ClientAuthOid)]);
        var san = new SubjectAlternativeNameBuilder();
        san.AddUri(new Uri(NodeIdentity.ClientUriPrefix + Uri.EscapeDataString(identity)));
        request.CertificateExtensions.Add(san.Build());

        return Sign(ca, request, key, validity);
    }

    /// <summary>A leaf certificate request named CN=<paramref name="commonName"/> with the usages given, issued under <paramref name="ca"/>.</summary>
    private static CertificateRequest LeafRequest(X509Certificate2 ca, string commonName, ECDsa key, Oid[] usages)
    {
        var request = new CertificateRequest(new X500DistinguishedName($"CN={Escape(commonName)}"), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(certificateAuthority: false, hasPathLengthConstraint: false, pathLengthConstraint: 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([.. usages], critical: false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, includeKeyIdentifier: true, includeIssuerAndSerial: false));
        return request;
    }

    /// <summary>Signs <paramref name="request"/> with the CA (valid from 5 minutes ago for <paramref name="validity"/>, never past the CA) and attaches the key.</summary>
    private static X509Certificate2 Sign(X509Certificate2 ca, CertificateRequest request, ECDsa key, TimeSpan? validity)
    {
        var now = DateTimeOffset.UtcNow;
        var notAfter = now + (validity ?? DefaultNodeValidity);
        if (notAfter > ca.NotAfter)
        {
            notAfter = ca.NotAfter;
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F;
        using var signed = request.Create(ca, now.AddMinutes(-5), notAfter, serial);
        return Persist(signed.CopyWithPrivateKey(key));
    }

    /// <summary>
    /// Writes a certificate as PEM and, when <paramref name="privateKeyPath"/> is given, its private key as unencrypted
    /// PKCS#8 PEM readable only by the owner (mode 0600 on Unix).
    /// </summary>
    /// <param name="certificate">The certificate.</param>
    /// <param name="certificatePath">File for the certificate; replaced if present.</param>
    /// <param name="privateKeyPath">File for the private key, or null to write none.</param>
    /// <exception cref="ArgumentException">A key file was asked for but the certificate has no ECDSA or RSA private key.</exception>
    public static void ExportPem(X509Certificate2 certificate, string certificatePath, string? privateKeyPath = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        ArgumentException.ThrowIfNullOrEmpty(certificatePath);
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem() + "\n");
        if (privateKeyPath is null)
        {
            return;
        }

        string pem;
        using (var ecdsa = certificate.GetECDsaPrivateKey())
        using (var rsa = ecdsa is null ? certificate.GetRSAPrivateKey() : null)
        {
            pem = ecdsa?.ExportPkcs8PrivateKeyPem()
                ?? rsa?.ExportPkcs8PrivateKeyPem()
                ?? throw new ArgumentException($"certificate {certificate.Subject} has no exportable private key", nameof(certificate));
        }

        if (OperatingSystem.IsWindows())
        {
            File.WriteAllText(privateKeyPath, pem + "\n");
            return;
        }

        using var file = new FileStream(privateKeyPath, new FileStreamOptions
        {
            Mode = FileMode.Create,
            Access = FileAccess.Write,
            UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
        });
        File.SetUnixFileMode(privateKeyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var writer = new StreamWriter(file);
        writer.Write(pem);
        writer.Write('\n');
    }

    /// <summary>Loads a certificate and its private key from PEM files (as written by <see cref="ExportPem"/>).</summary>
    /// <param name="certificatePath">PEM certificate file.</param>
    /// <param name="privateKeyPath">PEM private key file (PKCS#8, SEC1 or PKCS#1, unencrypted).</param>
    /// <returns>The certificate with its private key.</returns>
    /// <exception cref="CryptographicException">The files do not hold a matching certificate and key.</exception>
    public static X509Certificate2 LoadPem(string certificatePath, string privateKeyPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(certificatePath);
        ArgumentException.ThrowIfNullOrEmpty(privateKeyPath);
        return Persist(X509Certificate2.CreateFromPemFile(certificatePath, privateKeyPath));
    }

    /// <summary>Loads every certificate of a PEM file, for example the cluster CA bundle for <see cref="TransportOptions.TrustedRoots"/>.</summary>
    /// <param name="path">PEM file with one or more certificates.</param>
    /// <returns>The certificates.</returns>
    /// <exception cref="CryptographicException">The file holds no certificate.</exception>
    public static X509Certificate2Collection LoadCertificatesPem(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var collection = new X509Certificate2Collection();
        collection.ImportFromPemFile(path);
        if (collection.Count == 0)
        {
            throw new CryptographicException($"{path} holds no PEM certificate.");
        }

        return collection;
    }

    /// <summary>
    /// Makes the private key usable by TLS on every platform: on Windows, SChannel cannot use the ephemeral keys that
    /// <see cref="CertificateRequest"/> and PEM loading produce, so the certificate goes through PKCS#12 there.
    /// Elsewhere the certificate is returned as it is. Takes ownership of <paramref name="certificate"/>.
    /// </summary>
    private static X509Certificate2 Persist(X509Certificate2 certificate)
    {
        if (!OperatingSystem.IsWindows() || !certificate.HasPrivateKey)
        {
            return certificate;
        }

        using (certificate)
        {
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), password: null, X509KeyStorageFlags.Exportable);
        }
    }

    private static string Escape(string name) =>
        name.Contains(',', StringComparison.Ordinal) || name.Contains('"', StringComparison.Ordinal) || name.Contains('=', StringComparison.Ordinal)
            ? "\"" + name.Replace("\"", "\\\"", StringComparison.Ordinal) + "\""
            : name;
}
