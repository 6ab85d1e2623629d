using System.IO.Compression;

namespace Svg2.Tests.Checkpoints;

/// <summary>Rewrites torch.save zip archives entry by entry, to make broken variants of valid files.</summary>
static class PthArchives
{
    /// <summary>The entries of an archive, name to content, in archive order.</summary>
    public static List<(string Name, byte[] Content)> Entries(byte[] archive)
    {
        using var zip = new ZipArchive(new MemoryStream(archive), ZipArchiveMode.Read);
        return zip.Entries.Select(e =>
        {
            using var stream = e.Open();
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            return (e.FullName, copy.ToArray());
        }).ToList();
    }

    /// <summary>An archive of the given entries; the listed ones compressed, the others stored as torch.save stores them.</summary>
    public static byte[] Build(IEnumerable<(string Name, byte[] Content)> entries, ISet<string>? compressed = null)
    {
        using var output = new MemoryStream();
        using (var zip = new ZipArchive(output, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, content) in entries)
            {
                var level = compressed?.Contains(name) == true ? CompressionLevel.Optimal : CompressionLevel.NoCompression;
                using var stream = zip.CreateEntry(name, level).Open();
                stream.Write(content);
            }
        return output.ToArray();
    }

    /// <summary>The archive with one entry's content replaced (null removes the entry).</summary>
    public static byte[] Replace(byte[] archive, string suffix, Func<byte[], byte[]?> edit) =>
        Build(Entries(archive).Select(e => e.Name.EndsWith(suffix, StringComparison.Ordinal) ? (e.Name, edit(e.Content)) : (e.Name, (byte[]?)e.Content))
            .Where(e => e.Item2 is not null).Select(e => (e.Name, e.Item2!)));
}
