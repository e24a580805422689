using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using WalrusGossip.Agent.Configuration;

namespace WalrusGossip.Agent.Tests;

/// <summary>The agent's sections through <see cref="IOptions{TOptions}"/>, validated when the host starts with the messages walrus-agent prints.</summary>
public sealed class OptionsRegistrationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("walrus-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static IHost Host(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Services.AddAgentOptions(configuration);
        return builder.Build();
    }

    private Dictionary<string, string?> Valid()
    {
        string File(string name)
        {
            var path = Path.Combine(_dir, name);
            System.IO.File.WriteAllText(path, "");
            return path;
        }

        return new()
        {
            ["Node:Id"] = "3",
            ["Node:DataDir"] = Path.Combine(_dir, "data"),
            ["Cluster:JoinList"] = "a:7301, b:7301",
            ["Gossip:ProtocolVersion"] = "1",
            ["Transport:CaFile"] = File("ca.pem"),
            ["Transport:CertFile"] = File("n3.pem"),
            ["Transport:KeyFile"] = File("n3.key"),
        };
    }

    [Fact]
    public void Each_section_resolves_bound_from_the_same_configuration_as_the_whole()
    {
        using var host = Host(Valid());

        Assert.Equal(3UL, host.Services.GetRequiredService<IOptions<NodeSection>>().Value.Id);
        Assert.Equal(["a:7301", "b:7301"], host.Services.GetRequiredService<IOptions<ClusterSection>>().Value.Join);
        Assert.Equal(1, host.Services.GetRequiredService<IOptions<GossipSection>>().Value.ProtocolVersion);
        Assert.Same(host.Services.GetRequiredService<IOptions<AgentOptions>>().Value.Storage, host.Services.GetRequiredService<IOptions<StorageSection>>().Value);
    }

    [Fact]
    public async Task Starting_with_an_unknown_key_or_a_bad_value_fails_with_the_messages_walrus_agent_prints()
    {
        var settings = Valid();
        settings["Node:Colour"] = "blue";
        settings["Gossip:ProtocolVersion"] = "7";
        using var host = Host(settings);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Equal(["unknown configuration key 'Node:Colour'", "Gossip:ProtocolVersion must be 1 or 2, got 7"], error.Failures);
    }
}
