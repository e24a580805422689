using WalrusGossip.Storage.Checkpoints;

namespace WalrusGossip.Storage;

/// <summary>What an offline integrity check of a data directory found.</summary>
/// <param name="FirstIndex">First retained index (from the first-index file or the first segment); 0 when there is no log.</param>
/// <param name="LastIndex">Last intact index before any corruption; FirstIndex - 1 when empty.</param>
/// <param name="SegmentCount">Segment files found.</param>
/// <param name="DataBytes">Bytes of intact record data.</param>
/// <param name="TornTailBytes">Bytes of an incomplete write at the end of the open segment (reported, not an error).</param>
/// <param name="Corruptions">Every corrupt record found, in log order.</param>
/// <param name="Problems">Other integrity problems: damaged checkpoints, hard state, first-index file, index gaps, an intact segment index that disagrees with its segment.</param>
/// <param name="Notes">Findings that are not errors, such as segment index files that open will rebuild.</param>
public sealed record VerifyReport(
    ulong FirstIndex,
    ulong LastIndex,
    int SegmentCount,
    long DataBytes,
    long TornTailBytes,
    IReadOnlyList<CorruptRecord> Corruptions,
    IReadOnlyList<string> Problems,
    IReadOnlyList<string> Notes)
{
    /// <summary>True when nothing is corrupt (a torn tail counts as intact).</summary>
    public bool Intact => Corruptions.Count == 0 && Problems.Count == 0;
}

/// <summary>One record as <see cref="StoreVerifier.Dump"/> found it.</summary>
/// <param name="Index">Log index (the expected index for a corrupt record).</param>
/// <param name="Term">Term; 0 for a corrupt record.</param>
/// <param name="Type">Entry type; 0 for a corrupt record.</param>
/// <param name="PayloadLength">Payload bytes.</param>
/// <param name="CrcOk">False when the record failed verification.</param>
/// <param name="Preview">The first payload bytes.</param>
/// <param name="Problem">Why the record failed verification, or null.</param>
public sealed record DumpedRecord(ulong Index, ulong Term, EntryType Type, uint PayloadLength, bool CrcOk, byte[] Preview, string? Problem);

/// <summary>
/// Offline, read-only integrity check of a data directory (<c>walrusctl store verify</c>): every record of every
/// segment (sealed ones included, which open trusts
/// from their index files), the segment index files, checkpoints and the hard-state file. Opens nothing for writing.
/// </summary>
public static class StoreVerifier
{
    /// <summary>Checks the data directory.</summary>
    /// <param name="dataDirectory">An agent's data directory (holding <c>log/</c>, <c>raft/</c>, <c>checkpoints/</c>).</param>
    /// <param name="maxEntryBytes">Largest payload a valid record may have; default <see cref="StorageOptions.MaxEntryBytes"/>.</param>
    /// <returns>The findings.</returns>
    /// <exception cref="DirectoryNotFoundException">The directory or its <c>log/</c> subdirectory does not exist.</exception>
    /// <exception cref="IOException">A file could not be read.</exception>
    public static VerifyReport Verify(string dataDirectory, int maxEntryBytes = StorageOptions.DefaultMaxEntryBytes)
    {
        var logDir = Path.Combine(dataDirectory, "log");
        if (!Directory.Exists(logDir))
        {
            throw new DirectoryNotFoundException($"{dataDirectory} is not a WalrusGossip data directory: {logDir} does not exist");
        }

        using var device = FileSystemDevice.Create(IoEngine.Psync);
        var problems = new List<string>();
        var notes = new List<string>();
        var corruptions = new List<CorruptRecord>();
        var starts = new List<ulong>();
        var indexFiles = new HashSet<ulong>();
        ulong? firstIndex = null;
        foreach (var name in device.ListFiles(logDir))
        {
            if (SegmentNames.TryParse(name, out var start, out var isSegment))
            {
                (isSegment ? (ICollection<ulong>)starts : indexFiles).Add(start);
            }
            else if (name == SegmentNames.FirstIndexFileName)
            {
                var bytes = AtomicFile.ReadAll(device, Path.Combine(logDir, name));
                if (bytes.Length == 16 && Crc32C.Compute(bytes.AsSpan(8)) == BitConverter.ToUInt32(bytes, 4))
                {
                    firstIndex = BitConverter.ToUInt64(bytes, 8);
                }
                else
                {
                    problems.Add($"{name}: damaged (bad length or CRC)");
                }
            }
            else if (!name.EndsWith(AtomicFile.TempSuffix, StringComparison.Ordinal))
            {
                problems.Add($"{name}: unknown file in the log directory");
            }
        }

        starts.Sort();
        ulong lastIndex = 0;
        long dataBytes = 0, torn = 0;
        var haveLast = false;
        for (var i = 0; i < starts.Count; i++)
        {
            var path = Path.Combine(logDir, SegmentNames.Segment(starts[i]));
            var isLast = i == starts.Count - 1;
            if (haveLast && starts[i] != lastIndex + 1 && corruptions.Count == 0)
            {
                problems.Add($"indexes {lastIndex + 1}..{starts[i] - 1} are missing before {Path.GetFileName(path)}");
            }

            var anchors = new List<int>();
            var runs = new List<(int FirstSlot, ulong Term)>();
            var count = 0;
            long lastOffset = 0;
            using var file = device.Open(path, DeviceOpenMode.ReadOnly);
            var result = SegmentScanner.Scan(file, starts[i], isLast, maxEntryBytes, continueAfterCorruption: true,
                (long offset, in RecordHeader header) =>
                {
                    if (count % Segment.AnchorStride == 0)
                    {
                        anchors.Add((int)offset);
                    }

                    if (runs.Count == 0 || runs[^1].Term != header.Term)
                    {
                        runs.Add((count, header.Term));
                    }

                    lastOffset = offset;
                    count++;
                });
            corruptions.AddRange(result.Corruptions);
            dataBytes += result.DataEnd;
            torn += result.TornBytes;
            if (result.NextIndex > starts[i] || !haveLast)
            {
                lastIndex = result.NextIndex - 1;
                haveLast = true;
            }

            if (!isLast)
            {
                var idxPath = Path.Combine(logDir, SegmentNames.Index(starts[i]));
                if (!indexFiles.Contains(starts[i]))
                {
                    notes.Add($"{Path.GetFileName(idxPath)}: missing (rebuilt on next open)");
                }
                else
                {
                    var problem = SegmentIndexFile.TryDecode(AtomicFile.ReadAll(device, idxPath), out var stored);
                    if (problem != SegmentIndexProblem.None)
                    {
                        notes.Add($"{Path.GetFileName(idxPath)}: {(problem == SegmentIndexProblem.OldFormat ? "old IDX1 format" : "damaged")} (the segment is scanned and the index rebuilt on next open)");
                    }
                    else if (result.Corruptions.Count == 0 &&
                        (stored!.FirstIndex != starts[i] || stored.Count != count || stored.DataEnd != result.DataEnd ||
                         stored.LastRecordOffset != lastOffset || !stored.Anchors.AsSpan().SequenceEqual(anchors.ToArray()) ||
                         !stored.TermRuns.AsSpan().SequenceEqual(runs.ToArray())))
                    {
                        problems.Add($"{Path.GetFileName(idxPath)}: intact but disagrees with its segment (count, data end, anchors or terms)");
                    }
                }
            }
        }

        var checkpointDir = Path.Combine(dataDirectory, "checkpoints");
        if (Directory.Exists(checkpointDir))
        {
            var checkpoints = new CheckpointStore(new ReadOnlyDevice(device), checkpointDir);
            foreach (var index in checkpoints.ListIndexes())
            {
                if (!checkpoints.Verify(index, out var why))
                {
                    problems.Add($"{Path.GetFileName(checkpoints.PathFor(index))}: {why}");
                }
            }
        }

        var hardStatePath = Path.Combine(dataDirectory, "raft", "hardstate");
        try
        {
            _ = new HardStateFile(device, hardStatePath).Load();
        }
        catch (LogCorruptionException e)
        {
            problems.Add(e.Message);
        }

        var first = firstIndex ?? (starts.Count > 0 ? starts[0] : 1);
        return new VerifyReport(first, Math.Max(lastIndex, first - 1), starts.Count, dataBytes, torn, corruptions, problems, notes);
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> records starting at index <paramref name="from"/>, read-only, including
    /// corrupt ones (with <see cref="DumpedRecord.CrcOk"/> false), for <c>walrusctl store dump</c>.
    /// </summary>
    /// <param name="dataDirectory">An agent's data directory.</param>
    /// <param name="from">First index to return; 0 or 1 for the start of the log.</param>
    /// <param name="count">Most records to return, at least 1.</param>
    /// <param name="previewBytes">Payload bytes to copy into each record's preview.</param>
    /// <returns>Records in index order.</returns>
    /// <exception cref="DirectoryNotFoundException">The directory has no <c>log/</c> subdirectory.</exception>
    public static IReadOnlyList<DumpedRecord> Dump(string dataDirectory, ulong from, int count, int previewBytes = 32)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        var logDir = Path.Combine(dataDirectory, "log");
        if (!Directory.Exists(logDir))
        {
            throw new DirectoryNotFoundException($"{dataDirectory} is not a WalrusGossip data directory: {logDir} does not exist");
        }

        using var device = FileSystemDevice.Create(IoEngine.Psync);
        var starts = new List<ulong>();
        foreach (var name in device.ListFiles(logDir))
        {
            if (SegmentNames.TryParse(name, out var start, out var isSegment) && isSegment)
            {
                starts.Add(start);
            }
        }

        starts.Sort();
        var output = new List<DumpedRecord>();
        for (var i = 0; i < starts.Count && output.Count < count; i++)
        {
            if (i + 1 < starts.Count && starts[i + 1] <= from)
            {
                continue;
            }

            using var file = device.Open(Path.Combine(logDir, SegmentNames.Segment(starts[i])), DeviceOpenMode.ReadOnly);
            var rows = new List<DumpedRecord>();
            var result = SegmentScanner.Scan(file, starts[i], i == starts.Count - 1, StorageOptions.DefaultMaxEntryBytes, continueAfterCorruption: true,
                (long offset, in RecordHeader h) =>
                {
                    if (h.Index >= from)
                    {
                        var preview = new byte[Math.Min(previewBytes, (int)h.PayloadLength)];
                        file.Read(offset + RecordHeader.Size, preview);
                        rows.Add(new DumpedRecord(h.Index, h.Term, (EntryType)h.Type, h.PayloadLength, true, preview, null));
                    }
                });
            foreach (var c in result.Corruptions)
            {
                if (c.Index >= from)
                {
                    rows.Add(new DumpedRecord(c.Index, 0, 0, 0, false, [], c.Reason));
                }
            }

            rows.Sort((a, b) => a.Index.CompareTo(b.Index));
            output.AddRange(rows.Take(count - output.Count));
        }

        return output;
    }

    /// <summary>Wraps a device so that construction-time housekeeping (temporary-file deletion) cannot modify anything.</summary>
    private sealed class ReadOnlyDevice(IStorageDevice inner) : IStorageDevice
    {
        public string EngineName => inner.EngineName;

        public IDeviceFile Open(string path, DeviceOpenMode mode) => inner.Open(path, DeviceOpenMode.ReadOnly);

        public bool FileExists(string path) => inner.FileExists(path);

        public long AvailableBytes(string path) => inner.AvailableBytes(path);

        public DateTime LastWriteTimeUtc(string path) => inner.LastWriteTimeUtc(path);

        public IReadOnlyList<string> ListFiles(string directory) => inner.ListFiles(directory);

        public void CreateDirectory(string path)
        {
        }

        public void DeleteFile(string path)
        {
        }

        public void Rename(string source, string destination) => throw new InvalidOperationException("read-only");

        public void SyncDirectory(string path)
        {
        }

        public IDisposable Lock(string path) => throw new InvalidOperationException("read-only");
    }
}
