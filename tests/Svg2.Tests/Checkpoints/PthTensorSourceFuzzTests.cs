using Svg2.Models.Checkpoints;

namespace Svg2.Tests.Checkpoints;

/// <summary>
/// Seeded corruptions of valid .pth files (written by torch.save and by the synthetic writer): every case
/// must end in a <see cref="CheckpointException"/> naming the file, or in a successful open and read of
/// every tensor, without another exception type, a hang, or an allocation larger than the file.
/// </summary>
public sealed class PthTensorSourceFuzzTests : IDisposable
{
    const int CasesPerKind = 80;
    // Opening a zip and running a small pickle costs some tens of kilobytes; a read before validation of a
    // corrupt size would cost megabytes and more.
    const long AllocationSlackBytes = 4 << 20;

    static readonly string[] ValidFiles = ["state_dict.pth", "synthetic.pth", "synthetic_nested.pth"];

    readonly CorruptFileFuzzer<Corruption, CheckpointException> _fuzzer = new("pth", AllocationSlackBytes);

    public void Dispose() => _fuzzer.Dispose();

    enum Corruption { FlipAnywhere, Truncate, FlipInPickle, TruncatePickle, EditPickleInteger, ResizeStorage }

    [Fact]
    public async Task CorruptFilesAreRejectedCleanlyOrReadCompletely()
    {
        var files = ValidFiles.Select(f => File.ReadAllBytes(SharedData.Path(Path.Combine("pth", f)))).ToArray();
        var outcomes = await _fuzzer.RunAsync(files, CasesPerKind, caseNumber => 104729 * caseNumber + 17, Corrupt, ReadCompletely);

        // Some edits leave a readable file (a changed value, a flipped data byte), which must then read completely.
        Assert.True(outcomes[Corruption.FlipInPickle].Accepted + outcomes[Corruption.EditPickleInteger].Accepted > 0,
            "no pickle edit left a readable file");
        Assert.Equal(0, outcomes[Corruption.Truncate].Accepted);
    }

    static string? ReadCompletely(string path, byte[] content)
    {
        using var source = PthTensorSource.Open(path);
        foreach (var name in source.Names)
        {
            var entry = source.Describe(name);
            using var tensor = source.Read(name);
            if (!tensor.shape.SequenceEqual(entry.Shape) || tensor.dtype != entry.Type)
                return $"'{name}' was described as {entry.Type} {entry.ShapeText} but read as {tensor.dtype} [{string.Join(", ", tensor.shape)}]";
            if (tensor.numel() * tensor.element_size() > content.Length)
                return $"'{name}' holds {tensor.numel() * tensor.element_size()} bytes, more than the {content.Length}-byte file";
        }
        return null;
    }

    static (byte[] Content, string Description) Corrupt(Corruption corruption, byte[] original, Random random)
    {
        switch (corruption)
        {
            case Corruption.FlipAnywhere:
            {
                var content = (byte[])original.Clone();
                int at = random.Next(content.Length);
                content[at] ^= (byte)random.Next(1, 256);
                return (content, $"byte {at}");
            }
            case Corruption.Truncate:
            {
                int length = random.Next(original.Length);
                return (original[..length], $"{length} of {original.Length} bytes");
            }
            case Corruption.FlipInPickle:
            {
                int flips = random.Next(1, 4);
                var positions = new List<int>();
                var content = PthArchives.Replace(original, "/data.pkl", pickle =>
                {
                    var edited = (byte[])pickle.Clone();
                    for (int i = 0; i < flips; i++)
                    {
                        int at = random.Next(edited.Length);
                        edited[at] ^= (byte)random.Next(1, 256);
                        positions.Add(at);
                    }
                    return edited;
                });
                return (content, $"pickle bytes {string.Join(", ", positions)}");
            }
            case Corruption.TruncatePickle:
            {
                int length = 0;
                var content = PthArchives.Replace(original, "/data.pkl", pickle => pickle[..(length = random.Next(pickle.Length))]);
                return (content, $"pickle cut to {length} bytes");
            }
            case Corruption.EditPickleInteger:
            {
                // BININT1 (K) carries sizes, strides, offsets and element counts; BININT (J) larger ones.
                string description = "";
                var content = PthArchives.Replace(original, "/data.pkl", pickle =>
                {
                    var edited = (byte[])pickle.Clone();
                    var candidates = Enumerable.Range(0, edited.Length - 4).Where(i => edited[i] is (byte)'K' or (byte)'J').ToList();
                    int at = candidates[random.Next(candidates.Count)];
                    int value = random.Next(4) switch { 0 => 0, 1 => 255, 2 => edited[at + 1] + 1, _ => random.Next(256) };
                    edited[at + 1] = (byte)value;
                    if (edited[at] == 'J' && random.Next(2) == 0) edited[at + 4] = 0x7f;
                    description = $"integer at pickle byte {at} -> {value}";
                    return edited;
                });
                return (content, description);
            }
            case Corruption.ResizeStorage:
            {
                var storages = PthArchives.Entries(original).Where(e => e.Name.Contains("/data/")).Select(e => e.Name).ToList();
                string target = storages[random.Next(storages.Count)];
                int change = random.Next(3);
                var content = PthArchives.Replace(original, target, data => change switch
                {
                    0 => null,
                    1 => data[..random.Next(data.Length + 1)],
                    _ => [.. data, .. new byte[random.Next(1, 9)]],
                });
                return (content, $"{target}: {(change == 0 ? "removed" : change == 1 ? "shortened" : "lengthened")}");
            }
            default:
                throw new InvalidOperationException($"unhandled corruption {corruption}");
        }
    }
}
