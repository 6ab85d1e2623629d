using System.Buffers.Binary;
using System.Diagnostics;
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
    static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(60);
    // Parsing a small header costs a few kilobytes of managed memory; anything near the size of the
    // claimed data (megabytes and more in the corruptions) would show a read before validation.
    const long AllocationSlackBytes = 1 << 20;

    readonly string _directory = Directory.CreateTempSubdirectory("svg2-safetensors-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    enum Corruption { FlipAnywhere, FlipInHeader, Truncate, EditNumber, DuplicateEntry, EditDtype, EditLength }

    sealed record Outcomes
    {
        public int Accepted;
        public int Rejected;
    }

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
            string path = Path.Combine(_directory, $"valid-{i}.safetensors");
            SafeTensorsWriter.Write(path, sets[i], i == 0 ? new Dictionary<string, string> { ["format"] = "pt" } : null);
            files[i] = File.ReadAllBytes(path);
            foreach (var tensor in sets[i].Values) tensor.Dispose();
        }
        return files;
    }

    [Fact]
    public async Task CorruptFilesAreRejectedCleanlyOrReadCompletely()
    {
        var files = ValidFiles();
        var outcomes = Enum.GetValues<Corruption>().ToDictionary(c => c, _ => new Outcomes());
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();

        // On a worker so that a hang fails the test instead of stalling the run.
        var work = Task.Run(() =>
        {
            int caseNumber = 0;
            foreach (var corruption in Enum.GetValues<Corruption>())
                for (int i = 0; i < CasesPerKind; i++, caseNumber++)
                {
                    var random = new Random(7919 * caseNumber + 13);
                    var original = files[caseNumber % files.Length];
                    var (content, description) = Corrupt(corruption, original, random);
                    string? failure = RunCase(caseNumber, content, outcomes[corruption]);
                    if (failure is not null) failures.Add($"case {caseNumber} ({corruption}: {description}): {failure}");
                }
        });
        bool finished = await Task.WhenAny(work, Task.Delay(TimeLimit)) == work;
        Assert.True(finished, $"The fuzz cases did not finish within {TimeLimit.TotalSeconds} s.");
        await work;
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));

        int total = outcomes.Values.Sum(o => o.Accepted + o.Rejected);
        Assert.True(total >= 1000, $"only {total} cases ran");
        // Each kind must exercise the rejection path, so the test cannot pass vacuously.
        foreach (var (corruption, counts) in outcomes)
            Assert.True(counts.Rejected > 0, $"{corruption}: no case was rejected");
        // Flips in the data section and dtype swaps of the same width leave a readable file.
        Assert.True(outcomes[Corruption.FlipAnywhere].Accepted > 0, "no byte flip left a readable file");
        Assert.True(outcomes[Corruption.EditDtype].Accepted > 0, "no dtype edit left a readable file");
        // A truncated file can never be complete.
        Assert.Equal(0, outcomes[Corruption.Truncate].Accepted);
    }

    string? RunCase(int caseNumber, byte[] content, Outcomes outcomes)
    {
        string path = Path.Combine(_directory, $"case-{caseNumber}.safetensors");
        File.WriteAllBytes(path, content);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            using var file = SafeTensorsFile.Open(path);
            var tensors = file.ReadAll();
            long tensorBytes = tensors.Values.Sum(t => t.numel() * t.element_size());
            foreach (var tensor in tensors.Values) tensor.Dispose();
            if (tensorBytes > content.Length) return $"read {tensorBytes} tensor bytes from a {content.Length}-byte file";
            outcomes.Accepted++;
        }
        catch (SafeTensorsFormatException e)
        {
            if (string.IsNullOrWhiteSpace(e.Message)) return "rejected with an empty message";
            if (!e.Message.Contains(path)) return $"the message does not name the file: {e.Message}";
            outcomes.Rejected++;
        }
        catch (Exception e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
        finally
        {
            File.Delete(path);
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - allocatedBefore;
        return allocated > content.Length + AllocationSlackBytes ? $"allocated {allocated} managed bytes for a {content.Length}-byte file" : null;
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
