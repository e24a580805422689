using Google.Protobuf;
using WalrusGossip.Protocol;
using WalrusGossip.Protocol.Messages;

namespace WalrusGossip.Client;

/// <summary>What <see cref="WalrusClient.ChangeGossipKeyringAsync"/> does on one agent.</summary>
public enum GossipKeyringOperation
{
    /// <summary>Report the keyring only.</summary>
    List,

    /// <summary>Add an accepted key.</summary>
    Install,

    /// <summary>Make an installed key the primary (gossip is sealed with it).</summary>
    Use,

    /// <summary>Remove an accepted key that is not the primary.</summary>
    Remove,
}

/// <summary>One agent's gossip keyring, as it answered.</summary>
/// <param name="Endpoint">The agent's client endpoint.</param>
/// <param name="KeyIds">Key ids (first 8 hex digits of each key's SHA-256), primary first; empty when its gossip is plaintext.</param>
/// <param name="DroppedPlaintext">Gossip messages it dropped for being plaintext while it encrypts.</param>
/// <param name="DroppedUnauthenticated">Gossip messages it dropped because no key authenticated them (forged, or sealed with a removed key).</param>
/// <param name="Message">The agent's message.</param>
public sealed record GossipKeyringInfo(string Endpoint, IReadOnlyList<string> KeyIds, ulong DroppedPlaintext, ulong DroppedUnauthenticated, string Message);

public sealed partial class WalrusClient
{
    /// <summary>
    /// Lists or changes the gossip keyring (AES-GCM keys; memberlist's keyring) of exactly <paramref name="endpoint"/>,
    /// in a single attempt: each agent holds its own keyring, so a rotation asks every agent in turn (install the new
    /// key everywhere, then use it everywhere, then remove the old one everywhere).
    /// </summary>
    /// <param name="endpoint">The agent's client endpoint, <c>host:port</c>.</param>
    /// <param name="operation">What to do.</param>
    /// <param name="key">The key, 16, 24 or 32 bytes; null for <see cref="GossipKeyringOperation.List"/>.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    /// <returns>The agent's keyring after the change.</returns>
    /// <exception cref="WalrusInvalidArgumentException">The change does not apply (unknown key, removing the primary, bad length).</exception>
    /// <exception cref="WalrusUnavailableException">The endpoint cannot be reached or its node is down.</exception>
    public async Task<GossipKeyringInfo> ChangeGossipKeyringAsync(string endpoint, GossipKeyringOperation operation, byte[]? key, CancellationToken cancellationToken = default)
    {
        var change = operation switch
        {
            GossipKeyringOperation.List => KeyringChange.List,
            GossipKeyringOperation.Install => KeyringChange.Install,
            GossipKeyringOperation.Use => KeyringChange.Use,
            GossipKeyringOperation.Remove => KeyringChange.Remove,
            _ => throw new ArgumentOutOfRangeException(nameof(operation), operation, "unknown keyring operation"),
        };
        var request = new KeyringRequest { Change = change, Key = key is null ? ByteString.Empty : ByteString.CopyFrom(key) };
        var (answered, message) = await AskOneAsync(endpoint, MessageType.KeyringRequest, request, cancellationToken).ConfigureAwait(false);
        var r = (KeyringResponse)message;
        return new GossipKeyringInfo(answered, [.. r.KeyIds], r.DroppedPlaintext, r.DroppedUnauthenticated, r.Message);
    }
}
