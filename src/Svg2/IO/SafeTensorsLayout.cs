namespace Svg2.IO;

/// <summary>
/// The rule for how a safetensors header's data ranges lay out the data section.
/// </summary>
/// <remarks>
/// The reference implementation (huggingface/safetensors, <c>Metadata::validate</c>) sorts the
/// entries by offset and requires each range to begin where the previous one ended, the first at 0,
/// and the last to end at the end of the file (<c>InvalidOffset</c>, <c>MetadataIncompleteBuffer</c>).
/// Every conforming writer therefore produces a contiguous, hole-free layout, and this reader
/// demands the same: overlapping ranges would let one tensor's bytes alias another's, and holes or
/// trailing bytes mean the header and the data disagree. Tensors of zero bytes hold no data, so they
/// may sit at any offset inside the data section and never overlap anything.
/// </remarks>
internal static class SafeTensorsLayout
{
    /// <summary>Throws when the non-empty ranges do not tile <c>[0, dataLength)</c> exactly.</summary>
    /// <exception cref="SafeTensorsFormatException">Two ranges overlap, a hole lies between ranges, or bytes follow the last range.</exception>
    public static void Validate(string path, IEnumerable<SafeTensorInfo> entries, long dataLength)
    {
        var ranges = entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin).ThenBy(e => e.End).ToList();
        long covered = 0;
        SafeTensorInfo? previous = null;
        foreach (var entry in ranges)
        {
            if (previous is not null && entry.Begin < previous.End)
                throw new SafeTensorsFormatException(
                    $"{path}: tensors '{previous.Name}' [{previous.Begin}, {previous.End}) and '{entry.Name}' [{entry.Begin}, {entry.End}) overlap.");
            if (entry.Begin > covered)
                throw new SafeTensorsFormatException(previous is null
                    ? $"{path}: the data section has {entry.Begin} unused bytes before the first tensor '{entry.Name}' [{entry.Begin}, {entry.End}); safetensors data must be contiguous."
                    : $"{path}: the data section has {entry.Begin - covered} unused bytes between tensors '{previous.Name}' [{previous.Begin}, {previous.End}) and '{entry.Name}' [{entry.Begin}, {entry.End}); safetensors data must be contiguous.");
            covered = entry.End;
            previous = entry;
        }
        if (covered != dataLength)
            throw new SafeTensorsFormatException(previous is null
                ? $"{path}: the header describes no data but {dataLength} data bytes follow it."
                : $"{path}: {dataLength - covered} bytes follow the last tensor '{previous.Name}' [{previous.Begin}, {previous.End}); the header must describe the whole data section.");
    }
}
