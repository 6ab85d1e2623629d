namespace Svg2.Tests;

/// <summary>
/// The harness of the file-format fuzz tests: seeded corruptions of valid files, each written to a
/// temporary file and read completely. A case must end in <typeparamref name="TRejection"/> with a
/// message naming the file, or in a complete read; any other exception, a message without the path,
/// a hang past <see cref="TimeLimit"/> or a managed allocation larger than the file fails the test.
/// </summary>
/// <typeparam name="TCorruption">The kinds of corruption; every kind runs the same number of cases.</typeparam>
/// <typeparam name="TRejection">The exception a reader throws for a malformed file.</typeparam>
internal sealed class CorruptFileFuzzer<TCorruption, TRejection> : IDisposable
    where TCorruption : struct, Enum
    where TRejection : Exception
{
    /// <summary>How long all cases together may take before the run counts as hung.</summary>
    public static readonly TimeSpan TimeLimit = TimeSpan.FromSeconds(60);

    /// <summary>How one kind of corruption's cases ended.</summary>
    public sealed record Outcomes
    {
        public int Accepted;
        public int Rejected;
    }

    readonly string _directory;
    readonly string _extension;
    readonly long _allocationSlackBytes;

    /// <param name="name">Names the temporary folder and, as the extension, each case's file.</param>
    /// <param name="allocationSlackBytes">Managed bytes a case may allocate beyond the file's size.</param>
    public CorruptFileFuzzer(string name, long allocationSlackBytes)
    {
        _directory = Directory.CreateTempSubdirectory($"svg2-{name}-fuzz-").FullName;
        _extension = name;
        _allocationSlackBytes = allocationSlackBytes;
    }

    /// <summary>A folder for the valid files the cases start from; deleted with the harness.</summary>
    public string Folder => _directory;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>
    /// Runs <paramref name="casesPerKind"/> cases of every corruption on a worker (so that a hang fails
    /// the test instead of stalling the run), case n from valid file n mod count with a Random seeded
    /// by <paramref name="seed"/>(n), asserts that every case ended cleanly and that every kind reached
    /// the rejection path, and returns the outcomes per kind.
    /// </summary>
    /// <param name="corrupt">A corrupted copy of a valid file and a description of the edit.</param>
    /// <param name="read">Opens and reads the file at the path completely; returns why an accepted file is wrong, or null.</param>
    public async Task<IReadOnlyDictionary<TCorruption, Outcomes>> RunAsync(byte[][] validFiles, int casesPerKind, Func<int, int> seed,
        Func<TCorruption, byte[], Random, (byte[] Content, string Description)> corrupt, Func<string, byte[], string?> read)
    {
        var kinds = Enum.GetValues<TCorruption>();
        var outcomes = kinds.ToDictionary(c => c, _ => new Outcomes());
        var failures = new List<string>();
        var work = Task.Run(() =>
        {
            int caseNumber = 0;
            foreach (var corruption in kinds)
                for (int i = 0; i < casesPerKind; i++, caseNumber++)
                {
                    var random = new Random(seed(caseNumber));
                    var (content, description) = corrupt(corruption, validFiles[caseNumber % validFiles.Length], random);
                    string? failure = RunCase(caseNumber, content, outcomes[corruption], read);
                    if (failure is not null) failures.Add($"case {caseNumber} ({corruption}: {description}): {failure}");
                }
        });
        bool finished = await Task.WhenAny(work, Task.Delay(TimeLimit)) == work;
        Assert.True(finished, $"The fuzz cases did not finish within {TimeLimit.TotalSeconds} s.");
        await work;
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures.Take(20)));
        Assert.Equal(kinds.Length * casesPerKind, outcomes.Values.Sum(o => o.Accepted + o.Rejected));
        // Each kind must reach the rejection path, so the test cannot pass vacuously.
        foreach (var (corruption, counts) in outcomes)
            Assert.True(counts.Rejected > 0, $"{corruption}: no case was rejected");
        return outcomes;
    }

    string? RunCase(int caseNumber, byte[] content, Outcomes outcomes, Func<string, byte[], string?> read)
    {
        string path = Path.Combine(_directory, $"case-{caseNumber}.{_extension}");
        File.WriteAllBytes(path, content);
        long allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            if (read(path, content) is { } wrong) return wrong;
            outcomes.Accepted++;
        }
        catch (TRejection e)
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
        return allocated > content.Length + _allocationSlackBytes ? $"allocated {allocated} managed bytes for a {content.Length}-byte file" : null;
    }
}
