using System.Globalization;
using Microsoft.Extensions.Logging;
using WalrusGossip.Membership;

namespace WalrusGossip.Node;

/// <summary>What <see cref="WalrusNode.ChangeGossipKeyring"/> does.</summary>
public enum GossipKeyringChange
{
    /// <summary>Only report the keyring.</summary>
    List,

    /// <summary>Add an accepted key (turns encryption on when the node had none).</summary>
    Install,

    /// <summary>Make an installed key the primary one (messages are sealed with it).</summary>
    Use,

    /// <summary>Remove an accepted key that is not the primary.</summary>
    Remove,
}

/// <summary>Outcome of <see cref="WalrusNode.ChangeGossipKeyring"/>.</summary>
/// <param name="Status"><see cref="RequestStatus.Ok"/>, or <see cref="RequestStatus.InvalidArgument"/> with <paramref name="Message"/>.</param>
/// <param name="KeyIds">The key ids after the change (<see cref="GossipKeyring.KeyId"/>), primary first; empty when gossip is plaintext.</param>
/// <param name="Message">Human-readable detail.</param>
public sealed record GossipKeyringResult(RequestStatus Status, IReadOnlyList<string> KeyIds, string Message);

/// <summary>
/// Gossip encryption (issue 18; memberlist's keyring): with a keyring every datagram and push-pull message the node
/// sends is sealed with AES-GCM (<see cref="GossipKeyring"/>) and everything it receives must open under one of its
/// keys, or it is dropped and counted before the membership layer sees it. The datagram budget shrinks by
/// <see cref="GossipKeyring.Overhead"/> so a sealed datagram still fits <see cref="MembershipOptions.MaxDatagramBytes"/>.
/// The keyring is persisted in the data directory at every change.
/// </summary>
public sealed partial class WalrusNode
{
    private GossipKeyring? _keyring;

    /// <summary>Gossip messages dropped because they were plaintext while a keyring is in use.</summary>
    public long GossipDroppedPlaintext => _keyring?.Dropped[GossipDropReason.Plaintext] ?? 0;

    /// <summary>Gossip messages dropped because no key authenticated them (forged, corrupted, or sealed with a removed key).</summary>
    public long GossipDroppedUnauthenticated => (_keyring?.Dropped[GossipDropReason.Unauthenticated] ?? 0) + (_keyring?.Dropped[GossipDropReason.Truncated] ?? 0);

    /// <summary>Sealed gossip received while this node has no keyring (it cannot read it).</summary>
    public long GossipDroppedSealedWithoutKeyring { get; private set; }

    /// <summary>The key ids of the keyring, primary first; empty when gossip is plaintext.</summary>
    public IReadOnlyList<string> GossipKeyIds => _keyring is null ? [] : [.. _keyring.Keys.Select(GossipKeyring.KeyId)];

    /// <summary>
    /// Lists or changes the gossip keyring and persists the result. Rotation without downtime: install the new key on
    /// every agent, then use it on every agent, then remove the old one everywhere. Called on the node loop.
    /// </summary>
    /// <param name="change">What to do.</param>
    /// <param name="key">The key (16, 24 or 32 bytes); ignored for <see cref="GossipKeyringChange.List"/>.</param>
    /// <returns>The keyring after the change, or a refusal (unknown key, removing the primary, bad length).</returns>
    /// <exception cref="IOException">The keyring file could not be written (the change stays in memory).</exception>
    public GossipKeyringResult ChangeGossipKeyring(GossipKeyringChange change, byte[]? key)
    {
        if (change == GossipKeyringChange.List)
        {
            return new GossipKeyringResult(RequestStatus.Ok, GossipKeyIds, _keyring is null ? "gossip is not encrypted" : "ok");
        }

        if (key is null || key.Length is not (16 or 24 or 32))
        {
            return new GossipKeyringResult(RequestStatus.InvalidArgument, GossipKeyIds, "a gossip key must be 16, 24 or 32 bytes");
        }

        try
        {
            switch (change)
            {
                case GossipKeyringChange.Install when _keyring is null:
                    _keyring = new GossipKeyring([key], NonceSource());
                    break;
                case GossipKeyringChange.Install:
                    _keyring.Install(key);
                    break;
                case GossipKeyringChange.Use when _keyring is not null:
                    _keyring.Use(key);
                    break;
                case GossipKeyringChange.Remove when _keyring is not null:
                    _keyring.Remove(key);
                    break;
                default:
                    return new GossipKeyringResult(RequestStatus.InvalidArgument, GossipKeyIds, $"key {GossipKeyring.KeyId(key)} is not installed (gossip is not encrypted)");
            }
        }
        catch (ArgumentException e)
        {
            return new GossipKeyringResult(RequestStatus.InvalidArgument, GossipKeyIds, e.Message);
        }

        Storage.SaveGossipKeys(_keyring.Keys);
        LogKeyringChanged(_logger, change.ToString().ToLowerInvariant(), GossipKeyring.KeyId(key), string.Join(",", GossipKeyIds));
        return new GossipKeyringResult(RequestStatus.Ok, GossipKeyIds, string.Create(CultureInfo.InvariantCulture, $"{change} {GossipKeyring.KeyId(key)}: keyring [{string.Join(", ", GossipKeyIds)}], primary {GossipKeyIds[0]}"));
    }

    /// <summary>At start: the persisted keyring, else the configured keys (then persisted), else none.</summary>
    private void OpenGossipKeyring()
    {
        var persisted = Storage.ReadGossipKeys();
        var keys = persisted ?? (_options.GossipKeys.Count > 0 ? _options.GossipKeys : null);
        _keyring = keys is null ? null : new GossipKeyring(keys, NonceSource());
        if (_keyring is not null && persisted is null)
        {
            Storage.SaveGossipKeys(_keyring.Keys);
        }
    }

    private Random NonceSource() => _options.GossipNonceSource ?? new CryptographicRandom();

    /// <summary>The membership options with the datagram budget left after sealing.</summary>
    private MembershipOptions MembershipOptionsForKeyring()
    {
        if (_keyring is null)
        {
            return _options.Membership;
        }

        var o = _options.Membership.Clone();
        o.MaxDatagramBytes -= GossipKeyring.Overhead;
        return o;
    }

    /// <summary>
    /// Opens a received gossip message: false when it must be dropped (counted). Without a keyring the message is
    /// used as it is (<paramref name="opened"/> stays empty: no copy on the plaintext path).
    /// </summary>
    private bool TryOpenGossip(ReadOnlySpan<byte> payload, out byte[]? opened)
    {
        opened = null;
        if (_keyring is null)
        {
            if (payload.Length > 0 && payload[0] == GossipKeyring.SealedVersion)
            {
                GossipDroppedSealedWithoutKeyring++;
                return false;
            }

            return true;
        }

        return _keyring.TryOpen(payload, out opened);
    }

    [LoggerMessage(EventId = 96, Level = LogLevel.Warning, Message = "gossip keyring: {Change} {Key}; keys now [{Keys}] (primary first)")]
    private static partial void LogKeyringChanged(ILogger logger, string change, string key, string keys);
}
