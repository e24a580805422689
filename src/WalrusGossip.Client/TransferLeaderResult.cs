namespace WalrusGossip.Client;

/// <summary>The answer to <see cref="WalrusClient.TransferLeaderAsync"/>.</summary>
/// <param name="LeaderId">Leader after the request when known (the transfer may still be in progress), else 0.</param>
/// <param name="Message">The agent's human-readable detail; may be empty.</param>
public sealed record TransferLeaderResult(ulong LeaderId, string Message);
