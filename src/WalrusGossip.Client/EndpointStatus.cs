namespace WalrusGossip.Client;

/// <summary>The outcome of asking one endpoint for its status (see <see cref="WalrusClient.GetClusterStatusAsync"/>).</summary>
/// <param name="Endpoint">The client endpoint asked (<c>host:port</c>).</param>
/// <param name="Status">Its status, or null when it did not answer.</param>
/// <param name="Error">Why it did not answer, or null when it did.</param>
public sealed record EndpointStatus(string Endpoint, NodeStatus? Status, string? Error);
