using System.IO.Compression;
using Svg2.Models.Video;
using static TorchSharp.torch;

namespace Svg2.Models.Data;

/// <summary>
/// Builds a <see cref="ClipDataset"/> from real footage: each source is decoded by ffmpeg at one frame rate, scaled
/// to cover the clip size and centre-cropped, cut into clips (<see cref="ClipPlan"/>: a seeded held-out region per
/// source that no training clip touches), and, under a size bound, thinned evenly.
/// </summary>
public static class FootageDataset
{
    /// <summary>File extensions taken from a footage folder (each also gzip-compressed, with .gz appended).</summary>
    public static readonly IReadOnlyList<string> VideoExtensions = [".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ogv"];

    // The safetensors header (three tensor entries, the fps and the JSON list of source names) stays well under
    // this plus twice the names' length; the size bound reserves it.
    const long HeaderReserve = 4096;

    /// <summary>
    /// The footage files named by <paramref name="paths"/>: a file is taken as it is; a folder gives its files with a
    /// <see cref="VideoExtensions"/> extension (or that plus .gz), in ordinal name order.
    /// </summary>
    /// <exception cref="ArgumentException">A path does not exist, or no footage file is found.</exception>
    public static IReadOnlyList<string> FindSources(IEnumerable<string> paths)
    {
        var files = new List<string>();
        foreach (var path in paths)
        {
            if (File.Exists(path)) files.Add(path);
            else if (Directory.Exists(path))
                files.AddRange(Directory.EnumerateFiles(path).Where(f => VideoExtensions.Contains(Path.GetExtension(SourceName(f)), StringComparer.OrdinalIgnoreCase))
                    .Order(StringComparer.Ordinal));
            else throw new ArgumentException($"Footage {path} does not exist.");
        }
        return files.Count > 0 ? files : throw new ArgumentException($"No footage file found in {string.Join(", ", paths)} (video extensions: {string.Join(' ', VideoExtensions)}, optionally .gz).");
    }

    /// <summary>Decodes <paramref name="files"/> (see <see cref="FindSources"/>) and cuts them into clips.</summary>
    /// <exception cref="ArgumentException">Bad options, two sources of one name, no source long enough for a clip, or a size bound below one clip.</exception>
    /// <exception cref="VideoIOException">ffmpeg is missing or a source cannot be decoded.</exception>
    public static FootageBuild Build(IReadOnlyList<string> files, FootageOptions options, FFmpegTools? tools = null)
    {
        int clipFrames = options.ClipFrames, stride = options.Stride ?? options.ClipFrames;
        if (clipFrames < 1) throw new ArgumentException($"A clip needs at least one frame; got {clipFrames}.");
        if (stride < 1) throw new ArgumentException($"The stride must be at least 1; got {stride}.");
        if (!(options.HeldOutFraction is >= 0 and < 1)) throw new ArgumentException($"The held-out fraction must lie in [0, 1); got {options.HeldOutFraction}.");
        if (options.Fps is { } asked && !(asked > 0 && !double.IsInfinity(asked))) throw new ArgumentException($"The frame rate must be positive; got {asked}.");
        var names = files.Select(SourceName).ToList();
        if (names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw new ArgumentException($"Two footage files are named {twice.Key}; a dataset names its sources by file name.");
        tools ??= FFmpegTools.Require();

        var decoded = new List<Tensor>();
        var temporaries = new List<string>();
        try
        {
            var plain = files.Select(file => Decompressed(file, temporaries)).ToList();
            var nativeFps = plain.Select(file => VideoProbe.Of(file, tools).Fps).ToList();
            double fps = options.Fps ?? nativeFps.Min();
            for (int i = 0; i < files.Count; i++)
            {
                // A source already at the rate skips the fps filter, which could still drop or repeat a frame of irregular timestamps.
                var read = new VideoReadOptions { Size = options.Size, Fit = FrameFit.Cover, Fps = Math.Abs(nativeFps[i] - fps) < 1e-3 ? null : fps };
                decoded.Add(VideoDecoder.Decode(plain[i], read, tools));
            }

            var random = new Random(options.Seed);
            var plans = decoded.Select(frames => ClipPlan.Create((int)frames.shape[0], clipFrames, stride, options.HeldOutFraction, random)).ToList();
            long clipBytes = (long)clipFrames * options.Size.Height * options.Size.Width * 3 + sizeof(long) + 1;
            var kept = Select(plans, names, clipBytes, options.MaxBytes);
            var reports = files.Select((file, i) => new FootageSourceReport(names[i], file, nativeFps[i], plans[i],
                kept.Where(c => c.Source == i && !c.HeldOut).Select(c => c.Start).ToList(),
                kept.Where(c => c.Source == i && c.HeldOut).Select(c => c.Start).ToList())).ToList();
            return new FootageBuild(Assemble(decoded, kept, clipFrames, names, fps), reports, clipBytes);
        }
        finally
        {
            foreach (var frames in decoded) frames.Dispose();
            foreach (var file in temporaries) File.Delete(file);
        }
    }

    /// <summary>The file size <paramref name="clips"/> clips can reach, header reserve included (what a size bound is checked against).</summary>
    public static long BoundedFileBytes(long clips, long clipBytes, IEnumerable<string> sourceNames) =>
        HeaderReserve + 2L * sourceNames.Sum(n => n.Length + 3) + clips * clipBytes;

    readonly record struct Clip(int Source, int Start, bool HeldOut);

    /// <summary>Every planned clip, or under a size bound an evenly spaced subset that keeps the held-out share.</summary>
    static List<Clip> Select(List<ClipPlan> plans, List<string> names, long clipBytes, long? maxBytes)
    {
        var training = plans.SelectMany((p, s) => p.TrainingStarts.Select(start => new Clip(s, start, false))).ToList();
        var heldOut = plans.SelectMany((p, s) => p.HeldOutStarts.Select(start => new Clip(s, start, true))).ToList();
        int total = training.Count + heldOut.Count;
        if (total == 0)
        {
            int longest = plans.Max(p => p.FrameCount);
            throw new ArgumentException($"No source is long enough for a clip of {plans[0].ClipFrames} frames (the longest has {longest} at the dataset's frame rate).");
        }
        if (maxBytes is not { } bound || BoundedFileBytes(total, clipBytes, names) <= bound) return [.. training, .. heldOut];
        long room = (bound - BoundedFileBytes(0, clipBytes, names)) / clipBytes;
        if (room < 1) throw new ArgumentException($"A size bound of {bound} bytes holds no clip: one takes {clipBytes} bytes plus a {BoundedFileBytes(0, clipBytes, names)}-byte header reserve.");
        int keepHeldOut = heldOut.Count == 0 ? 0 : (int)Math.Clamp(Math.Round(room * (double)heldOut.Count / total), 1, Math.Min(heldOut.Count, room));
        int keepTraining = (int)Math.Min(training.Count, room - keepHeldOut);
        return [.. Evenly(training, keepTraining), .. Evenly(heldOut, keepHeldOut)];
    }

    static IEnumerable<Clip> Evenly(List<Clip> clips, int count) =>
        Enumerable.Range(0, count).Select(i => clips[(int)((i + 0.5) * clips.Count / count)]);

    static ClipDataset Assemble(List<Tensor> decoded, List<Clip> kept, int clipFrames, List<string> names, double fps)
    {
        var ordered = kept.OrderBy(c => c.Source).ThenBy(c => c.Start).ToList();
        var first = decoded[0];
        var clips = empty([ordered.Count, clipFrames, first.shape[1], first.shape[2], 3], ScalarType.Byte);
        for (int i = 0; i < ordered.Count; i++)
        {
            using var slot = clips[i];
            using var frames = decoded[ordered[i].Source].narrow(0, ordered[i].Start, clipFrames);
            slot.copy_(frames);
        }
        var source = tensor(ordered.Select(c => (long)c.Source).ToArray());
        var heldOut = tensor(ordered.Select(c => (byte)(c.HeldOut ? 1 : 0)).ToArray());
        return new ClipDataset(clips, source, heldOut, names, fps);
    }

    /// <summary>The name a file gives its source: the file name without a .gz suffix.</summary>
    static string SourceName(string file)
    {
        string name = Path.GetFileName(file);
        return name.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? name[..^3] : name;
    }

    /// <summary>The file itself, or for a .gz file a decompressed copy in the temporary folder, added to <paramref name="temporaries"/>.</summary>
    static string Decompressed(string file, List<string> temporaries)
    {
        if (!file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase)) return file;
        string plain = Path.Combine(Path.GetTempPath(), $"svg2-footage-{Guid.NewGuid():N}-{SourceName(file)}");
        temporaries.Add(plain);
        try
        {
            using var compressed = new GZipStream(File.OpenRead(file), CompressionMode.Decompress);
            using var output = File.Create(plain);
            compressed.CopyTo(output);
        }
        catch (InvalidDataException error)
        {
            throw new VideoIOException($"{file} is not a readable gzip file: {error.Message}", error);
        }
        return plain;
    }
}
