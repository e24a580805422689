using System.Globalization;

namespace WalrusGossip.Storage.Segments;

/// <summary>Names of segment and sparse-index files: the first index in the segment, 20 decimal digits.</summary>
public static class SegmentNames
{
    /// <summary>Extension of segment files.</summary>
    public const string SegmentExtension = ".seg";

    /// <summary>Extension of sparse-index files.</summary>
    public const string IndexExtension = ".idx";

    /// <summary>Name of the file holding the logical first index after prefix truncation.</summary>
    public const string FirstIndexFileName = "first-index";

    /// <summary>The segment file name for a segment starting at <paramref name="firstIndex"/>, e.g. <c>00000000000000000001.seg</c>.</summary>
    /// <param name="firstIndex">First index in the segment.</param>
    /// <returns>The file name.</returns>
    public static string Segment(ulong firstIndex) => string.Create(CultureInfo.InvariantCulture, $"{firstIndex:D20}{SegmentExtension}");

    /// <summary>The sparse-index file name for a segment starting at <paramref name="firstIndex"/>.</summary>
    /// <param name="firstIndex">First index in the segment.</param>
    /// <returns>The file name.</returns>
    public static string Index(ulong firstIndex) => string.Create(CultureInfo.InvariantCulture, $"{firstIndex:D20}{IndexExtension}");

    /// <summary>Parses a segment or index file name.</summary>
    /// <param name="name">File name without directory.</param>
    /// <param name="firstIndex">The first index encoded in the name.</param>
    /// <param name="isSegment">True for <c>.seg</c>, false for <c>.idx</c>.</param>
    /// <returns>False when the name is neither form.</returns>
    public static bool TryParse(string name, out ulong firstIndex, out bool isSegment)
    {
        ArgumentNullException.ThrowIfNull(name);
        firstIndex = 0;
        isSegment = name.EndsWith(SegmentExtension, StringComparison.Ordinal);
        var isIndex = name.EndsWith(IndexExtension, StringComparison.Ordinal);
        return (isSegment || isIndex) && name.Length == 24 &&
            ulong.TryParse(name.AsSpan(0, 20), NumberStyles.None, CultureInfo.InvariantCulture, out firstIndex) && firstIndex > 0;
    }
}
