using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using WalrusGossip.Protocol;
using WalrusGossip.Transport;

namespace WalrusGossip.Client;

/// <summary>Settings of a <see cref="WalrusClient"/>. Every field documents its default.</summary>
public sealed class WalrusClientOptions
{
    /// <summary>
    /// Client endpoints of agents, as <c>host:port</c> (IPv6 as <c>[addr]:port</c>). Any agent serves any request;
    /// the client follows the leader's address when told, and tries the others when one is unreachable. At least
    /// one is required. Default empty.
    /// </summary>
    public IList<string> Endpoints { get; set; } = [];

    /// <summary>
    /// PEM file holding the cluster CA certificate(s) the agents' certificates must chain to. When neither this nor
    /// <see cref="CaCertificates"/> is set, the operating system's trust store decides. Default null.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>The cluster CA certificate(s), as an alternative to <see cref="CaFile"/>. Default null.</summary>
    public X509Certificate2Collection? CaCertificates { get; set; }

    /// <summary>PEM file of the client certificate, for clusters that require client authentication. Default null.</summary>
    public string? ClientCertificateFile { get; set; }

    /// <summary>PEM file of the client certificate's private key; null when the key is in <see cref="ClientCertificateFile"/>. Default null.</summary>
    public string? ClientKeyFile { get; set; }

    /// <summary>The client certificate with its private key, as an alternative to the files. Default null.</summary>
    public X509Certificate2? ClientCertificate { get; set; }

    /// <summary>
    /// When true (default) an agent's certificate must name the host the client dialled (DNS or IP subject
    /// alternative name). Turn off only when endpoints are addresses the certificates do not list.
    /// </summary>
    public bool ValidateServerName { get; set; } = true;

    /// <summary>Transport to use: QUIC when supported, else TCP (default <see cref="TransportMode.Auto"/>). It must match the agents'.</summary>
    public TransportMode TransportMode { get; set; } = TransportMode.Auto;

    /// <summary>Time allowed to connect to one endpoint, TLS and Hello handshake included. Default 5 s.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Time allowed for one attempt of a request (connecting, redirects and the answer); an attempt that exceeds
    /// it is retried. Default 10 s, which covers a leader election on a healthy network.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Retries after the first attempt for transient failures (unavailable, timeout, overloaded, lost connection). Default 6; 0 disables retrying.</summary>
    public int MaxRetries { get; set; } = 6;

    /// <summary>Delay before the first retry; later ones grow exponentially with jitter. Default 100 ms.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Longest delay between retries. Default 2 s.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>NOT_LEADER redirects followed within one attempt before the attempt counts as failed. Default 3.</summary>
    public int MaxRedirects { get; set; } = 3;

    /// <summary>
    /// How long an endpoint's circuit stays open (requests skip it) after repeated connection failures.
    /// Default 2 s; at least 0.5 s (Polly's minimum).
    /// </summary>
    public TimeSpan CircuitBreakDuration { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Client session id carried by appends (Raft dissertation §6.3): with the per-append sequence it lets the
    /// cluster answer a retried append with its original index instead of storing it twice. Concurrent appends use
    /// further session ids derived from this one (see <see cref="MaxConcurrentAppends"/>). Must be unique per client
    /// instance and non-zero. Default a random non-zero value.
    /// </summary>
    public ulong ClientId { get; set; } = NewClientId();

    /// <summary>
    /// Append requests in flight at once; further appends wait and are coalesced (see <see cref="MaxCoalescedAppends"/>).
    /// Each in-flight request uses its own client session (lane), which carries one request at a time so that its
    /// sequence numbers reach the cluster in order even when retried after a leader change. Default 16 (each request
    /// carries up to <see cref="MaxCoalescedAppends"/> entries, so fewer, larger requests cost less on both sides); at
    /// least 1.
    /// </summary>
    public int MaxConcurrentAppends { get; set; } = 16;

    /// <summary>
    /// Most entries one request carries when appends are coalesced: while every lane (see
    /// <see cref="MaxConcurrentAppends"/>) has a request in flight, further <see cref="WalrusClient.AppendAsync"/> calls
    /// wait, and the next free lane sends those waiting as one batch request (at most 1 MiB of payload). Each entry
    /// keeps its own sequence number and result. 1 turns coalescing off. Default 256; 1 to 1,024 (the cluster's
    /// per-session window, so a retried batch is always recognised).
    /// </summary>
    public int MaxCoalescedAppends { get; set; } = 256;

    /// <summary>
    /// Bearer token (<c>walrusctl auth token create</c>) sent in the Hello frame, inside TLS, for agents that require
    /// client authentication when this client holds no client certificate; its roles decide what it may do. Default null.
    /// </summary>
    public string? Token { get; set; }

    /// <summary>Name sent in the Hello frame, for the agents' logs. Default <c>walrus-client</c>.</summary>
    public string ClientName { get; set; } = "walrus-client";

    /// <summary>Largest frame sent or accepted, in bytes. Default <see cref="ProtocolLimits.DefaultMaxFrameBytes"/> (16 MiB).</summary>
    public int MaxFrameBytes { get; set; } = ProtocolLimits.DefaultMaxFrameBytes;

    /// <summary>
    /// Frames (batches of entries) buffered per <see cref="WalrusClient.TailAsync(ulong, CancellationToken)"/>
    /// subscription before the client stops reading from the agent, which then slows down through flow control.
    /// Default 64.
    /// </summary>
    public int TailBufferFrames { get; set; } = 64;

    /// <summary>Returns a random non-zero client id.</summary>
    /// <returns>The id.</returns>
    public static ulong NewClientId()
    {
        Span<byte> bytes = stackalloc byte[8];
        ulong id;
        do
        {
            RandomNumberGenerator.Fill(bytes);
            id = BitConverter.ToUInt64(bytes);
        }
        while (id == 0);
        return id;
    }

    /// <summary>Checks every setting.</summary>
    /// <exception cref="ArgumentException">A setting is missing or out of range; the message names it.</exception>
    public void Validate()
    {
        if (Endpoints is null || Endpoints.Count == 0)
        {
            throw new ArgumentException("WalrusClientOptions.Endpoints needs at least one host:port.", nameof(Endpoints));
        }

        foreach (var endpoint in Endpoints)
        {
            _ = EndpointAddress.Parse(endpoint);
        }

        if (ConnectTimeout <= TimeSpan.Zero || RequestTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException("WalrusClientOptions.ConnectTimeout and RequestTimeout must be positive.", nameof(RequestTimeout));
        }

        if (MaxRetries < 0 || MaxRedirects < 0)
        {
            throw new ArgumentException("WalrusClientOptions.MaxRetries and MaxRedirects must not be negative.", nameof(MaxRetries));
        }

        if (RetryBaseDelay <= TimeSpan.Zero || RetryMaxDelay < RetryBaseDelay)
        {
            throw new ArgumentException("WalrusClientOptions.RetryBaseDelay must be positive and at most RetryMaxDelay.", nameof(RetryBaseDelay));
        }

        if (CircuitBreakDuration < TimeSpan.FromMilliseconds(500))
        {
            throw new ArgumentException("WalrusClientOptions.CircuitBreakDuration must be at least 0.5 s.", nameof(CircuitBreakDuration));
        }

        if (ClientId == 0)
        {
            throw new ArgumentException("WalrusClientOptions.ClientId must not be 0 (0 turns off deduplication).", nameof(ClientId));
        }

        if (MaxConcurrentAppends < 1)
        {
            throw new ArgumentException("WalrusClientOptions.MaxConcurrentAppends must be at least 1.", nameof(MaxConcurrentAppends));
        }

        if (MaxCoalescedAppends is < 1 or > 1024)
        {
            throw new ArgumentException("WalrusClientOptions.MaxCoalescedAppends must be between 1 and 1,024.", nameof(MaxCoalescedAppends));
        }

        if (TailBufferFrames < 1)
        {
            throw new ArgumentException("WalrusClientOptions.TailBufferFrames must be at least 1.", nameof(TailBufferFrames));
        }

        ProtocolLimits.ValidateMaxFrameBytes(MaxFrameBytes, nameof(MaxFrameBytes));
        if (ClientCertificateFile is null && ClientKeyFile is not null)
        {
            throw new ArgumentException("WalrusClientOptions.ClientKeyFile needs ClientCertificateFile.", nameof(ClientKeyFile));
        }
    }
}
