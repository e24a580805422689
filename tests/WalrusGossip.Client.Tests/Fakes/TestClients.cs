using WalrusGossip.Transport;

namespace WalrusGossip.Client.Tests.Fakes;

/// <summary>Client options for tests: TCP, the test CA, short backoff so retries cost milliseconds.</summary>
internal static class TestClients
{
    public static WalrusClientOptions Options(params string[] endpoints) => new()
    {
        Endpoints = [.. endpoints],
        CaCertificates = TestCertificates.Roots,
        TransportMode = TransportMode.Tcp,
        MaxRetries = 3,
        RetryBaseDelay = TimeSpan.FromMilliseconds(2),
        RetryMaxDelay = TimeSpan.FromMilliseconds(20),
        ConnectTimeout = TimeSpan.FromSeconds(5),
        RequestTimeout = TimeSpan.FromSeconds(5),
    };

    public static WalrusClient Create(params string[] endpoints) => new(Options(endpoints));
}
