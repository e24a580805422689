using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
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
}
