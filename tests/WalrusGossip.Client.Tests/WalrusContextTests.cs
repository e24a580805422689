using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using WalrusGossip.Client.Tests.Fakes;

namespace WalrusGossip.Client.Tests;

public sealed class WalrusContextTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("walrus-context-");

    public void Dispose() => _directory.Delete(recursive: true);

    [Fact]
    public void Load_reads_endpoints_and_resolves_relative_paths_against_the_file_directory()
    {
        var path = Write("ctx/walrusctl.json", """
            { "endpoints": ["127.0.0.1:7101", "127.0.0.1:7102"], "ca": "certs/ca.pem", "clientCert": null, "clientKey": null }
            """);

        var context = WalrusContext.Load(path);

        Assert.Equal(["127.0.0.1:7101", "127.0.0.1:7102"], context.Endpoints);
        Assert.Equal(Path.Combine(_directory.FullName, "ctx", "certs", "ca.pem"), context.CaFile);
        Assert.Null(context.ClientCertificateFile);
        var options = new WalrusClientOptions();
        context.ApplyTo(options);
        Assert.Equal(context.Endpoints, options.Endpoints);
        Assert.Equal(context.CaFile, options.CaFile);
    }

    [Fact]
    public void The_default_context_is_dot_walrus_dev_walrusctl_json_in_the_directory_and_absent_means_null()
    {
        Assert.Null(WalrusContext.TryLoadDefault(_directory.FullName));
        Write(".walrus-dev/walrusctl.json", """{ "endpoints": ["localhost:7101"], "ca": "/abs/ca.pem", "transport": "tcp" }""");

        var context = WalrusContext.TryLoadDefault(_directory.FullName);

        Assert.NotNull(context);
        Assert.Equal("/abs/ca.pem", context.CaFile);
        Assert.Equal(Transport.TransportMode.Tcp, context.TransportMode);
    }

    [Theory]
    [InlineData("""{ "ca": "ca.pem" }""", "endpoints")]
    [InlineData("""{ "endpoints": [] }""", "endpoints")]
    [InlineData("""{ "endpoints": ["no-port"] }""", "no-port")]
    [InlineData("""{ "endpoints": ["a:1"], "transport": "carrier-pigeon" }""", "transport")]
    [InlineData("""{ "endpoints": ["a:1" """, "not a valid context file")]
    public void An_invalid_context_file_is_refused_with_the_reason(string json, string reason)
    {
        var path = Write("bad.json", json);

        var thrown = Assert.Throws<InvalidDataException>(() => WalrusContext.Load(path));

        Assert.Contains(reason, thrown.Message, StringComparison.Ordinal);
        Assert.Contains(path, thrown.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = 30_000)]
    public async Task AddWalrusClient_registers_one_shared_client_configured_by_the_callback()
    {
        await using var agent = await FakeAgent.StartAsync();
        var services = new ServiceCollection();
        services.AddWalrusClient(o =>
        {
            var test = TestClients.Options(agent.Endpoint);
            o.Endpoints = test.Endpoints;
            o.CaCertificates = test.CaCertificates;
            o.TransportMode = test.TransportMode;
            o.ClientId = 42;
        });
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<WalrusClient>();
        var result = await client.AppendAsync("di"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken);

        Assert.Same(client, provider.GetRequiredService<WalrusClient>());
        Assert.Equal(42ul, client.ClientId);
        Assert.Equal(1ul, result.Index);
    }

    [Fact(Timeout = 30_000)]
    public async Task AddWalrusClient_binds_a_configuration_section_and_refuses_a_bad_one_naming_the_key()
    {
        await using var agent = await FakeAgent.StartAsync();
        var ca = Write("ca.pem", TestClients.Options(agent.Endpoint).CaCertificates![0].ExportCertificatePem());
        var section = new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Walrus:Endpoints:0"] = agent.Endpoint,
                ["Walrus:CaFile"] = ca,
                ["Walrus:TransportMode"] = TestClients.Options(agent.Endpoint).TransportMode.ToString(),
                ["Walrus:ClientId"] = "43",
                ["Walrus:RequestTimeout"] = "00:00:05",
            })
            .Build()
            .GetSection("Walrus");
        var services = new ServiceCollection();
        services.AddWalrusClient(section);
        await using (var provider = services.BuildServiceProvider())
        {
            var client = provider.GetRequiredService<WalrusClient>();
            Assert.Equal(43ul, client.ClientId);
            Assert.Equal(1ul, (await client.AppendAsync("bound"u8.ToArray(), cancellationToken: TestContext.Current.CancellationToken)).Index);
        }

        var empty = new ServiceCollection().AddWalrusClient(new Microsoft.Extensions.Configuration.ConfigurationBuilder().Build());
        await using (var provider = empty.BuildServiceProvider())
        {
            var thrown = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<WalrusClient>());
            Assert.Contains("Endpoints", thrown.Message, StringComparison.Ordinal);
        }

        var unknown = new ServiceCollection().AddWalrusClient(new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Endpoints:0"] = agent.Endpoint, ["Colour"] = "blue" }).Build());
        await using (var provider = unknown.BuildServiceProvider())
        {
            var thrown = Assert.Throws<InvalidOperationException>(() => provider.GetRequiredService<WalrusClient>());
            Assert.Contains("Colour", thrown.Message, StringComparison.Ordinal);
        }
    }

    private string Write(string relative, string content)
    {
        var path = Path.Combine(_directory.FullName, relative);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, content);
        return path;
    }
}
