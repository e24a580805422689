using System.Buffers.Binary;
using System.Security.Cryptography;

namespace WalrusGossip.Membership;

/// <summary>Why <see cref="GossipKeyring.TryOpen"/> dropped a message.</summary>
public enum GossipDropReason
{
    /// <summary>Not sealed (plaintext) while a keyring is in use.</summary>
    Plaintext,

    /// <summary>Sealed, but no key of the keyring authenticates it: forged, corrupted, or sealed with a key removed since (stale).</summary>
    Unauthenticated,

    /// <summary>Too short to hold the header, nonce and tag.</summary>
    Truncated,
}

/// <summary>
/// Authenticated encryption of gossip (after memberlist's keyring): every datagram and push-pull stream is sealed with
/// AES-GCM (NIST SP 800-38D) under the primary key and accepted under any installed key, so keys rotate without
/// downtime: install the new key everywhere, make it primary everywhere, remove the old one. Sealed layout:
/// <c>u8 0x81, nonce[12], ciphertext (the plaintext's length), tag[16]</c>; the first byte is authenticated as
/// associated data. Nonces are an 8-byte random prefix drawn when the keyring is built or the primary key changes,
/// then a 4-byte counter (a new prefix when it wraps), so a key never sees a nonce twice from one process. Not thread-safe:
/// the node loop owns it.
/// </summary>
public sealed class GossipKeyring : IDisposable
{
    /// <summary>First byte of a sealed message (a plaintext datagram starts with the codec version, 1).</summary>
    public const byte SealedVersion = 0x81;

    /// <summary>Bytes sealing adds: header, nonce and tag.</summary>
    public const int Overhead = 1 + NonceBytes + TagBytes;

    private const int NonceBytes = 12;
    private const int TagBytes = 16;

    private readonly List<(byte[] Key, AesGcm Cipher)> _keys = [];
    private readonly Random _nonceSource;
    private readonly byte[] _noncePrefix = new byte[8];
    private uint _counter;

    /// <summary>Builds a keyring; the first key is the primary.</summary>
    /// <param name="keys">AES keys of 16, 24 or 32 bytes; at least one; duplicates are kept once.</param>
    /// <param name="nonceSource">Draws nonce prefixes: <see cref="CryptographicRandom"/> in production, a seeded generator under the simulator.</param>
    /// <exception cref="ArgumentException">No key, or a key of another length.</exception>
    public GossipKeyring(IEnumerable<byte[]> keys, Random nonceSource)
    {
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(nonceSource);
        _nonceSource = nonceSource;
        foreach (var key in keys)
        {
            Install(key);
        }

        if (_keys.Count == 0)
        {
            throw new ArgumentException("a gossip keyring needs at least one key", nameof(keys));
        }

        NewNoncePrefix();
    }

    /// <summary>The keys, primary first.</summary>
    public IReadOnlyList<byte[]> Keys => [.. _keys.Select(k => k.Key)];

    /// <summary>The key messages are sealed with.</summary>
    public byte[] Primary => _keys[0].Key;

    /// <summary>Messages dropped since start, by reason.</summary>
    public IReadOnlyDictionary<GossipDropReason, long> Dropped => _dropped;

    private readonly Dictionary<GossipDropReason, long> _dropped = new()
    {
        [GossipDropReason.Plaintext] = 0,
        [GossipDropReason.Unauthenticated] = 0,
        [GossipDropReason.Truncated] = 0,
    };

    /// <summary>Parses a key as operators write it: base64 of 16, 24 or 32 bytes (<c>openssl rand -base64 32</c>).</summary>
    /// <param name="base64">The key text.</param>
    /// <returns>The key bytes.</returns>
    /// <exception cref="FormatException">Not base64, or not 16, 24 or 32 bytes.</exception>
    public static byte[] ParseKey(string base64)
    {
        ArgumentNullException.ThrowIfNull(base64);
        byte[] key;
        try
        {
            key = Convert.FromBase64String(base64.Trim());
        }
        catch (FormatException e)
        {
            throw new FormatException("a gossip key must be base64 (for example: openssl rand -base64 32)", e);
        }

        return key.Length is 16 or 24 or 32 ? key : throw new FormatException($"a gossip key must be 16, 24 or 32 bytes (AES-128/192/256), got {key.Length}");
    }

    /// <summary>A short, non-secret name for a key: the first 8 hex digits of its SHA-256.</summary>
    /// <param name="key">The key.</param>
    /// <returns>For example <c>3f9a0c1d</c>.</returns>
    public static string KeyId(byte[] key) => Convert.ToHexStringLower(SHA256.HashData(key), 0, 4);

    /// <summary>Adds <paramref name="key"/> as an accepted key (no-op when present).</summary>
    /// <param name="key">16, 24 or 32 bytes.</param>
    /// <exception cref="ArgumentException">Another length.</exception>
    public void Install(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length is not (16 or 24 or 32))
        {
            throw new ArgumentException($"a gossip key must be 16, 24 or 32 bytes, got {key.Length}", nameof(key));
        }

        if (IndexOf(key) < 0)
        {
            _keys.Add((key.ToArray(), new AesGcm(key, TagBytes)));
        }
    }

    /// <summary>Makes an installed key the primary.</summary>
    /// <param name="key">An installed key.</param>
    /// <exception cref="ArgumentException">It is not installed.</exception>
    public void Use(byte[] key)
    {
        var at = IndexOf(key);
        if (at < 0)
        {
            throw new ArgumentException($"key {KeyId(key)} is not installed; install it first", nameof(key));
        }

        var entry = _keys[at];
        _keys.RemoveAt(at);
        _keys.Insert(0, entry);
        NewNoncePrefix();
    }

    /// <summary>Removes an accepted key; messages sealed with it are dropped from now on.</summary>
    /// <param name="key">An installed key other than the primary.</param>
    /// <exception cref="ArgumentException">It is the primary, or not installed.</exception>
    public void Remove(byte[] key)
    {
        var at = IndexOf(key);
        if (at < 0)
        {
            throw new ArgumentException($"key {KeyId(key)} is not installed", nameof(key));
        }

        if (at == 0)
        {
            throw new ArgumentException($"key {KeyId(key)} is the primary; make another key primary first", nameof(key));
        }

        _keys[at].Cipher.Dispose();
        _keys.RemoveAt(at);
    }

    /// <summary>Seals <paramref name="plaintext"/> under the primary key.</summary>
    /// <param name="plaintext">A datagram or push-pull message.</param>
    /// <returns><see cref="Overhead"/> + plaintext length bytes.</returns>
    public byte[] Seal(ReadOnlySpan<byte> plaintext)
    {
        var sealedMessage = new byte[Overhead + plaintext.Length];
        sealedMessage[0] = SealedVersion;
        var nonce = sealedMessage.AsSpan(1, NonceBytes);
        _noncePrefix.CopyTo(nonce);
        BinaryPrimitives.WriteUInt32LittleEndian(nonce[8..], _counter);
        if (++_counter == 0)
        {
            NewNoncePrefix();
        }

        _keys[0].Cipher.Encrypt(nonce, plaintext, sealedMessage.AsSpan(1 + NonceBytes, plaintext.Length), sealedMessage.AsSpan(sealedMessage.Length - TagBytes), sealedMessage.AsSpan(0, 1));
        return sealedMessage;
    }

    /// <summary>Opens a sealed message with the primary key, then each other key; never throws for bad input.</summary>
    /// <param name="message">What arrived.</param>
    /// <param name="plaintext">The plaintext when true.</param>
    /// <returns>False (and the reason counted in <see cref="Dropped"/>) when it is not sealed, truncated or not authenticated by any key.</returns>
    public bool TryOpen(ReadOnlySpan<byte> message, out byte[] plaintext)
    {
        plaintext = [];
        if (message.Length == 0 || message[0] != SealedVersion)
        {
            _dropped[GossipDropReason.Plaintext]++;
            return false;
        }

        if (message.Length < Overhead)
        {
            _dropped[GossipDropReason.Truncated]++;
            return false;
        }

        var nonce = message.Slice(1, NonceBytes);
        var ciphertext = message[(1 + NonceBytes)..^TagBytes];
        var tag = message[^TagBytes..];
        var output = new byte[ciphertext.Length];
        foreach (var (_, cipher) in _keys)
        {
            try
            {
                cipher.Decrypt(nonce, ciphertext, tag, output, message[..1]);
                plaintext = output;
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
            }
        }

        _dropped[GossipDropReason.Unauthenticated]++;
        return false;
    }

    /// <summary>Disposes the ciphers.</summary>
    public void Dispose()
    {
        foreach (var (_, cipher) in _keys)
        {
            cipher.Dispose();
        }

        _keys.Clear();
    }

    private int IndexOf(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _keys.FindIndex(k => CryptographicOperations.FixedTimeEquals(k.Key, key));
    }

    private void NewNoncePrefix()
    {
        _nonceSource.NextBytes(_noncePrefix);
        _counter = 0;
    }
}
