namespace WalrusGossip.Storage;

/// <summary>Which segments a retention policy lets go (see <see cref="RetentionPolicy"/>).</summary>
public sealed partial class LogStore
{
    /// <summary>
    /// The first index to keep under <paramref name="policy"/>, never past <paramref name="notAfter"/>, always the first
    /// index of a segment (whole segments are deleted): walking from the newest segment back, a segment is kept while
    /// the bytes of the older kept segments stay within <see cref="RetentionPolicy.MaxBytes"/>, it holds an entry
    /// within <see cref="RetentionPolicy.MaxEntries"/> of <see cref="LastIndex"/>, and its file was last written no more
    /// than <see cref="RetentionPolicy.MaxAge"/> before <see cref="StorageOptions.TimeProvider"/>'s now. Pass the result
    /// to <see cref="TruncatePrefix"/>.
    /// </summary>
    /// <remarks>With an age limit, reads the last write time of each sealed segment it walks past (one stat per segment).</remarks>
    /// <param name="policy">The limits.</param>
    /// <param name="notAfter">Upper bound, typically the latest checkpoint's index + 1.</param>
    /// <returns>An index in [<see cref="FirstIndex"/>, max(<see cref="FirstIndex"/>, <paramref name="notAfter"/>)]; <see cref="FirstIndex"/> when nothing may go.</returns>
    /// <exception cref="IOException">With an age limit: a segment's last write time cannot be read.</exception>
    public ulong RetainFrom(RetentionPolicy policy, ulong notAfter)
    {
        ArgumentNullException.ThrowIfNull(policy);
        _rw.EnterReadLock();
        try
        {
            var first = _firstIndex;
            if (policy.IsKeepAll || _segments.Count < 2 || notAfter <= first)
            {
                return first;
            }

            var last = _ackedLast;
            long bytes = _segments[^1].End;
            var keep = _segments.Count - 1; // the newest segment is always kept
            var now = _options.TimeProvider.GetUtcNow().UtcDateTime;
            while (keep > 0)
            {
                var older = _segments[keep - 1];
                var withinBytes = policy.MaxBytes == 0 || bytes + older.End <= policy.MaxBytes + _segments[^1].End;
                var withinEntries = policy.MaxEntries == 0 || older.LastIndex + policy.MaxEntries > last;
                var withinAge = policy.MaxAge == TimeSpan.Zero || now - _device.LastWriteTimeUtc(older.Path) <= policy.MaxAge;
                if (!withinBytes || !withinEntries || !withinAge)
                {
                    break;
                }

                bytes += older.End;
                keep--;
            }

            // Whole segments only, and none holding an entry at or after notAfter.
            while (keep > 0 && _segments[keep].FirstIndex > notAfter)
            {
                keep--;
            }

            return Math.Max(first, _segments[keep].FirstIndex);
        }
        finally
        {
            _rw.ExitReadLock();
        }
    }
}
