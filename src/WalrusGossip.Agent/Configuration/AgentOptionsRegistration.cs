using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace WalrusGossip.Agent.Configuration;

/// <summary>
/// The agent's options in the container: <see cref="IOptions{TOptions}"/> of <see cref="AgentOptions"/> and of each
/// of its sections (<see cref="NodeSection"/>, <see cref="NetworkSection"/>, ...), bound from the same configuration
/// and validated when the host starts (<c>ValidateOnStart</c>) with the messages <c>walrus-agent</c> prints: unknown
/// keys and every value outside its range, each naming its setting.
/// </summary>
public static class AgentOptionsRegistration
{
    /// <summary>Registers the options bound from <paramref name="configuration"/>.</summary>
    /// <param name="services">The host's services.</param>
    /// <param name="configuration">The agent's configuration (JSON file, <c>WALRUS_</c> environment variables, command line).</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <remarks>
    /// Starting the host throws <see cref="OptionsValidationException"/> (one failure per problem, the same text as
    /// <see cref="AgentConfigurationException"/>) when a section is invalid. <c>walrus-agent</c> also checks everything
    /// once before it builds the host, since it needs the HTTP address and the logging settings to build it.
    /// </remarks>
    public static IServiceCollection AddAgentOptions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<AgentOptions>()
            .Configure(o => AgentConfiguration.BindInto(configuration, o))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<AgentOptions>>(new ProblemsValidator(configuration));
        Section(services, o => o.Node);
        Section(services, o => o.Network);
        Section(services, o => o.Cluster);
        Section(services, o => o.Transport);
        Section(services, o => o.Gossip);
        Section(services, o => o.Storage);
        Section(services, o => o.Raft);
        Section(services, o => o.Security);
        Section(services, o => o.Telemetry);
        return services;
    }

    /// <summary>
    /// One section as <see cref="IOptions{TOptions}"/>: the instance bound inside <see cref="AgentOptions"/> (so
    /// list keys such as <c>Cluster:JoinList</c> apply and every section is validated with the rest at start).
    /// </summary>
    private static void Section<T>(IServiceCollection services, Func<AgentOptions, T> pick)
        where T : class =>
        services.AddSingleton<IOptions<T>>(sp => Options.Create(pick(sp.GetRequiredService<IOptions<AgentOptions>>().Value)));

    /// <summary>Fails with every problem <see cref="AgentConfiguration.Problems"/> finds, one failure per message.</summary>
    private sealed class ProblemsValidator(IConfiguration configuration) : IValidateOptions<AgentOptions>
    {
        public ValidateOptionsResult Validate(string? name, AgentOptions options)
        {
            var problems = AgentConfiguration.Problems(configuration, options);
            return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
        }
    }
}
