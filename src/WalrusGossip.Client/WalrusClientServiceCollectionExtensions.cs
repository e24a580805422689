using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using WalrusGossip.Client;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the WalrusGossip client in a service collection.</summary>
public static class WalrusClientServiceCollectionExtensions
{
    /// <summary>
    /// Registers one shared <see cref="WalrusClient"/> (singleton, created on first use, disposed with the container)
    /// configured by <paramref name="configure"/>. Logs through <see cref="ILoggerFactory"/> when one is registered.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Sets the options: at least <see cref="WalrusClientOptions.Endpoints"/>.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <example>
    /// <code>
    /// services.AddWalrusClient(o =>
    /// {
    ///     o.Endpoints = ["10.0.0.1:7101", "10.0.0.2:7101", "10.0.0.3:7101"];
    ///     o.CaFile = "/etc/walrus/ca.pem";
    /// });
    /// </code>
    /// </example>
    public static IServiceCollection AddWalrusClient(this IServiceCollection services, Action<WalrusClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.TryAddSingleton(provider =>
        {
            var options = new WalrusClientOptions();
            configure(options);
            var logger = provider.GetService<ILoggerFactory>()?.CreateLogger<WalrusClient>();
            return new WalrusClient(options, logger);
        });
        return services;
    }

    /// <summary>
    /// Registers one shared <see cref="WalrusClient"/> whose <see cref="WalrusClientOptions"/> are bound from
    /// <paramref name="configuration"/> (for example <c>builder.Configuration.GetSection("Walrus")</c>: keys such as
    /// <c>Endpoints:0</c>, <c>CaFile</c>, <c>ClientCertificateFile</c>, <c>Token</c>, <c>RequestTimeout</c>) through
    /// <see cref="IOptions{TOptions}"/>, validated when the host starts (<c>ValidateOnStart</c>).
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configuration">The configuration section holding the options.</param>
    /// <returns><paramref name="services"/>, for chaining.</returns>
    /// <remarks>
    /// A key that names no option is refused (<see cref="InvalidOperationException"/> on binding), as the agent refuses
    /// unknown keys; no endpoint, a non-positive timeout or retry count fails validation with
    /// <see cref="OptionsValidationException"/> naming the key, at host start or at the first resolution of the client.
    /// </remarks>
    public static IServiceCollection AddWalrusClient(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<WalrusClientOptions>()
            .Bind(configuration, b => b.ErrorOnUnknownConfiguration = true)
            .Validate(o => o.Endpoints.Count > 0, "Endpoints: at least one agent client address (host:port) is required")
            .Validate(o => o.RequestTimeout > TimeSpan.Zero && o.ConnectTimeout > TimeSpan.Zero, "RequestTimeout and ConnectTimeout must be positive")
            .Validate(o => o.MaxRetries >= 0 && o.MaxConcurrentAppends > 0, "MaxRetries must not be negative and MaxConcurrentAppends must be positive")
            .ValidateOnStart();
        services.TryAddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<WalrusClientOptions>>().Value;
            var logger = provider.GetService<ILoggerFactory>()?.CreateLogger<WalrusClient>();
            return new WalrusClient(options, logger);
        });
        return services;
    }
}
