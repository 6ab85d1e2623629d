using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Tests.IO;

/// <summary>
/// Seeded corruptions of valid files from <see cref="SafeTensorsWriter"/>: every case must end in a
/// <see cref="SafeTensorsFormatException"/> with a message, or in a successful open and read of every
/// tensor, without another exception type, a hang, or an allocation larger than the file.
/// </summary>
public sealed partial class SafeTensorsFuzzTests : IDisposable
{
    const int CasesPerKind = 200;
    // Parsing a small header costs a few kilobytes of managed memory; anything near the size of the
    // claimed data (megabytes and more in the corruptions) would show a read before validation.
    const long AllocationSlackBytes = 1 << 20;

    readonly CorruptFileFuzzer<Corruption, SafeTensorsFormatException> _fuzzer = new("safetensors", AllocationSlackBytes);

    public void Dispose() => _fuzzer.Dispose();

    enum Corruption { FlipAnywhere, FlipInHeader, Truncate, EditNumber, DuplicateEntry, EditDtype, EditLength }

    [GeneratedRegex(@"(?<=[\[,])\d+(?=[,\]])")]
    private static partial Regex ArrayNumber();

    [GeneratedRegex("\"(F64|F32|F16|BF16|I64|I32|I8|U8|BOOL)\"")]
    private static partial Regex DtypeString();

    [GeneratedRegex("\"[^\"]+\":\\{\"dtype\"[^}]*\\}")]
    private static partial Regex TensorEntry();

    byte[][] ValidFiles()
    {
        var generator = new Generator(2024);
        var sets = new[]
        {
            new Dictionary<string, Tensor>
            {
                ["blocks.0.weight"] = randn([3, 5], generator: generator),
                ["blocks.0.bias"] = randn([7], generator: generator).to(ScalarType.BFloat16),
                ["indices"] = randint(-50, 50, [2, 2], generator: generator).to(ScalarType.Int64),
                ["empty"] = zeros([0, 3], ScalarType.Byte),
                ["flag"] = ones([], ScalarType.Bool),
            },
            new Dictionary<string, Tensor>
            {
                ["h"] = randn([4, 4, 2], generator: generator).to(ScalarType.Float16),
                ["i8"] = randint(-100, 100, [9], generator: generator).to(ScalarType.Int8),
                ["d"] = randn([3], generator: generator).to(ScalarType.Float64),
                ["i32"] = randint(-100, 100, [5], generator: generator).to(ScalarType.Int32),
            },
        };
        var files = new byte[sets.Length][];
        for (int i = 0; i < sets.Length; i++)
        {
            string path = Path.Combine(_fuzzer.Folder, $"valid-{i}.safetensors");
            SafeTensorsWriter.Write(path, sets[i], i == 0 ? new Dictionary<string, string> { ["format"] = "pt" } : null);
            files[i] = File.ReadAllBytes(path);
            foreach (var tensor in sets[i].Values) tensor.Dispose();
        }
        return files;
    }

    [Fact]
    public async Task CorruptFilesAreRejectedCleanlyOrReadCompletely()
    {
        var outcomes = await _fuzzer.RunAsync(ValidFiles(), CasesPerKind, caseNumber => 7919 * caseNumber + 13, Corrupt, ReadCompletely);

        // Flips in the data section and dtype swaps of the same width leave a readable file.
        Assert.True(outcomes[Corruption.FlipAnywhere].Accepted > 0, "no byte flip left a readable file");
        Assert.True(outcomes[Corruption.EditDtype].Accepted > 0, "no dtype edit left a readable file");
        // A truncated file can never be complete.
        Assert.Equal(0, outcomes[Corruption.Truncate].Accepted);
    }

    static string? ReadCompletely(string path, byte[] content)
    {
        using var file = SafeTensorsFile.Open(path);
        var tensors = file.ReadAll();
        long tensorBytes = tensors.Values.Sum(t => t.numel() * t.element_size());
        foreach (var tensor in tensors.Values) tensor.Dispose();
        return tensorBytes > content.Length ? $"read {tensorBytes} tensor bytes from a {content.Length}-byte file" : null;
    }

    static (byte[] Content, string Description) Corrupt(Corruption corruption, byte[] original, Random random)
    {
        int headerLength = (int)BinaryPrimitives.ReadInt64LittleEndian(original);
        var bytes = (byte[])original.Clone();
        switch (corruption)
        {
            case Corruption.FlipAnywhere:
            case Corruption.FlipInHeader:
            {
                int flips = random.Next(1, 5);
                var positions = new List<int>();
                for (int i = 0; i < flips; i++)
                {
                    int position = corruption == Corruption.FlipAnywhere ? random.Next(bytes.Length) : 8 + random.Next(headerLength);
                    bytes[position] ^= (byte)random.Next(1, 256);
                    positions.Add(position);
                }
                return (bytes, $"flipped bytes {string.Join(", ", positions)}");
            }
            case Corruption.Truncate:
            {
                int length = random.Next(original.Length);
                return (original[..length], $"truncated to {length} of {original.Length} bytes");
            }
            case Corruption.EditLength:
            {
                long[] choices = [0, -1, long.MinValue, long.MaxValue, headerLength - 1, headerLength + 1, headerLength + random.Next(-8, 9),
                    random.Next(1, original.Length + 16), 100L * 1024 * 1024 + 1, (long)random.NextInt64()];
                long length = choices[random.Next(choices.Length)];
                BinaryPrimitives.WriteInt64LittleEndian(bytes, length);
                return (bytes, $"header length {headerLength} -> {length}");
            }
        }

        string header = Encoding.UTF8.GetString(original, 8, headerLength);
        var data = original[(8 + headerLength)..];
        string edited, description;
        switch (corruption)
        {
            case Corruption.EditNumber:
            {
                var numbers = ArrayNumber().Matches(header);
                var target = numbers[random.Next(numbers.Count)];
                long value = long.Parse(target.Value);
                string[] replacements = ["0", "-1", "1", (value + 1).ToString(), (value - 1).ToString(), (value * 2).ToString(), (value + 8).ToString(),
                    "1.5", "1e3", "NaN", "\"4\"", "null", "9223372036854775807", "18446744073709551616", "4611686018427387904", "99999999999"];
                string replacement = replacements[random.Next(replacements.Length)];
                edited = header[..target.Index] + replacement + header[(target.Index + target.Length)..];
                description = $"number {target.Value} at {target.Index} -> {replacement}";
                break;
            }
            case Corruption.DuplicateEntry:
            {
                var entries = TensorEntry().Matches(header);
                var entry = entries[random.Next(entries.Count)];
                string copy = entry.Value;
                if (random.Next(2) == 0)
                {
                    // A second name for the same bytes: an overlap rather than a duplicate key.
                    copy = "\"alias" + random.Next(100) + copy[copy.IndexOf("\":{", StringComparison.Ordinal)..];
                }
                int insertAt = entries[random.Next(entries.Count)].Index;
                edited = header[..insertAt] + copy + "," + header[insertAt..];
                description = $"inserted {copy} at {insertAt}";
                break;
            }
            case Corruption.EditDtype:
            {
                var dtypes = DtypeString().Matches(header);
                var target = dtypes[random.Next(dtypes.Count)];
                string[] replacements = ["\"F64\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"I32\"", "\"I8\"", "\"U8\"", "\"BOOL\"",
                    "\"F8_E4M3\"", "\"f32\"", "\"\"", "32", "null", "[\"F32\"]"];
                string replacement = replacements[random.Next(replacements.Length)];
                edited = header[..target.Index] + replacement + header[(target.Index + target.Length)..];
                description = $"dtype {target.Value} -> {replacement}";
                break;
            }
            default:
                throw new InvalidOperationException($"unhandled corruption {corruption}");
        }
        var editedBytes = Encoding.UTF8.GetBytes(edited);
        var content = new byte[8 + editedBytes.Length + data.Length];
        BinaryPrimitives.WriteInt64LittleEndian(content, editedBytes.Length);
        editedBytes.CopyTo(content, 8);
        data.CopyTo(content, 8 + editedBytes.Length);
        return (content, description);
    }
}
