using System.Formats.Asn1;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;

namespace WalrusGossip.Transport;

/// <summary>
/// A node's Raft id bound to its certificate: a subject alternative name URI <c>walrus://node/ID</c> (RFC 5280
/// §4.2.1.6, uniformResourceIdentifier). The peer port compares it with the node id a peer declares in its Hello, so
/// a host holding the certificate of node 2 cannot speak as node 3.
/// </summary>
public static class NodeIdentity
{
    /// <summary>The URI prefix; the decimal node id follows.</summary>
    public const string UriPrefix = "walrus://node/";

    private const string SubjectAltNameOid = "2.5.29.17";

    /// <summary>The SAN URI naming <paramref name="nodeId"/>.</summary>
    /// <param name="nodeId">A Raft node id, at least 1.</param>
    /// <returns><c>walrus://node/ID</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="nodeId"/> is 0.</exception>
    public static Uri UriFor(ulong nodeId)
    {
        ArgumentOutOfRangeException.ThrowIfZero(nodeId);
        return new Uri(UriPrefix + nodeId.ToString(CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Reads the node id from the certificate's <c>walrus://node/ID</c> SAN URIs. False when it carries none, when two
    /// name different ids, or when the extension does not decode.
    /// </summary>
    /// <param name="certificate">A peer's certificate.</param>
    /// <param name="nodeId">The id, or 0.</param>
    /// <returns>True when exactly one id is named.</returns>
    public static bool TryGetNodeId(X509Certificate2 certificate, out ulong nodeId)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        nodeId = 0;
        foreach (var uri in SanUris(certificate))
        {
            if (uri.StartsWith(UriPrefix, StringComparison.OrdinalIgnoreCase) &&
                ulong.TryParse(uri.AsSpan(UriPrefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var id) && id != 0)
            {
                if (nodeId != 0 && nodeId != id)
                {
                    nodeId = 0;
                    return false; // two identities: trust neither
                }

                nodeId = id;
            }
        }

        return nodeId != 0;
    }

    /// <summary>Prefix of the SAN URI naming a client identity in a client certificate (<c>walrus://client/NAME</c>).</summary>
    public const string ClientUriPrefix = "walrus://client/";

    /// <summary>True when the certificate names a client identity (<c>walrus://client/NAME</c>): such a certificate never speaks as a node.</summary>
    /// <param name="certificate">Any certificate.</param>
    /// <returns>Whether one of its SAN URIs is a client identity.</returns>
    public static bool IsClientCertificate(X509Certificate2 certificate) =>
        SanUris(certificate).Any(u => u.StartsWith(ClientUriPrefix, StringComparison.OrdinalIgnoreCase));

    /// <summary>Every URI in the certificate's subject alternative names (none when the extension is missing or malformed).</summary>
    /// <param name="certificate">Any certificate.</param>
    /// <returns>The URIs, in certificate order.</returns>
    public static IReadOnlyList<string> SanUris(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var uris = new List<string>();
        var uriTag = new Asn1Tag(TagClass.ContextSpecific, 6);
        foreach (var extension in certificate.Extensions)
        {
            if (extension.Oid?.Value != SubjectAltNameOid)
            {
                continue;
            }

            try
            {
                var names = new AsnReader(extension.RawData, AsnEncodingRules.DER).ReadSequence();
                while (names.HasData)
                {
                    if (names.PeekTag().HasSameClassAndValue(uriTag))
                    {
                        uris.Add(names.ReadCharacterString(UniversalTagNumber.IA5String, uriTag));
                    }
                    else
                    {
                        names.ReadEncodedValue();
                    }
                }
            }
            catch (AsnContentException)
            {
                return [];
            }
        }

        return uris;
    }
}
