using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Svg2.Models.Data;
using Svg2.Models.Video;

namespace Svg2.Cli.Commands;

/// <summary><c>svg2 data</c>: a training dataset of short clips cut from real footage, with a held-out split per source.</summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var footage = new Option<string[]>("--footage") { Description = "video files or folders of them (.gz-compressed files too)", Required = true, AllowMultipleArgumentsPerToken = true };
        var output = new Option<string>("--out") { Description = "the dataset file (safetensors: clips, source, heldout)", Required = true };
        var frames = new Option<int>("--frames") { Description = "frames per clip", DefaultValueFactory = _ => 33 };
        var size = new Option<string>("--size") { Description = "clip frame size HxW; frames are scaled to cover it and centre-cropped", DefaultValueFactory = _ => "96x160" };
        var stride = new Option<int?>("--stride") { Description = "frames between training clips' starts (default: --frames, so clips do not overlap)" };
        var heldOut = new Option<double>("--heldout-fraction") { Description = "share of each source's frames held out as whole clips in one seeded region that no training clip touches", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<int>("--seed") { Description = "seed of the held-out regions' positions", DefaultValueFactory = _ => 0 };
        var fps = new Option<double?>("--fps") { Description = "frame rate every source is resampled to (default: the lowest source rate, so no frame is repeated)" };
        var maxBytes = new Option<string?>("--max-bytes") { Description = "upper bound on the file size, in bytes or with a K, M or G suffix (KiB, MiB, GiB); clips are thinned evenly to fit" };
        var ffmpeg = new Option<string?>("--ffmpeg") { Description = $"the ffmpeg program or its folder, with ffprobe beside it (default: {FFmpegTools.EnvironmentVariable}, then PATH)" };
        var command = new Command("data", "Cut real footage into short clips for training and evaluating a video model: decode each source with ffmpeg at one frame rate, " +
            "scale and centre-crop, cut clips with a stride, hold out a seeded region of whole clips per source, and write one safetensors file.");
        foreach (var option in new Option[] { footage, output, frames, size, stride, heldOut, seed, fps, maxBytes, ffmpeg }) command.Options.Add(option);
        command.SetAction(result => CommandErrors.Run(() =>
        {
            if (result.GetValue(heldOut) == 0)
                CommandErrors.RejectUnused(result, [seed], "with --heldout-fraction 0 nothing is held out, and the seed only places the held-out regions");
            var options = new FootageOptions
            {
                ClipFrames = result.GetValue(frames),
                Size = FrameSize.Parse(result.GetValue(size)!),
                Stride = result.GetValue(stride),
                HeldOutFraction = result.GetValue(heldOut),
                Seed = result.GetValue(seed),
                Fps = result.GetValue(fps),
                MaxBytes = result.GetValue(maxBytes) is { } bound ? ParseBytes(bound) : null,
            };
            string path = result.GetValue(output)!;
            var files = FootageDataset.FindSources(result.GetValue(footage)!);
            var tools = FFmpegTools.Require(result.GetValue(ffmpeg));
            using var build = FootageDataset.Build(files, options, tools);
            AtomicOutput.WriteFile(path, temporary =>
            {
                build.Dataset.Write(temporary);
                long written = new FileInfo(temporary).Length;
                if (options.MaxBytes is { } most && written > most)
                    throw new InvalidOperationException($"The dataset takes {written} bytes, over --max-bytes {most}; the header outgrew its reserve.");
            });

            AnsiConsole.Write(SourceTable(build));
            long heldOutClips = build.Sources.Sum(s => s.HeldOutStarts.Count);
            AnsiConsole.MarkupLineInterpolated(
                $"wrote {path}: {build.Dataset.Count} clips ({heldOutClips} held out) of {options.ClipFrames} frames at {options.Size} and {build.Dataset.Fps:0.###} fps, {new FileInfo(path).Length} bytes");
            return 0;
        }));
        return command;
    }

    /// <summary>A byte count, optionally with a binary K, M or G suffix.</summary>
    internal static long ParseBytes(string text)
    {
        string digits = text.Trim();
        long unit = 1;
        if (digits.Length > 0 && "KMG".IndexOf(char.ToUpperInvariant(digits[^1])) is int power and >= 0)
        {
            unit = 1L << (10 * (power + 1));
            digits = digits[..^1];
        }
        if (long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out long count) && count > 0 && count <= long.MaxValue / unit)
            return count * unit;
        throw new ArgumentException($"--max-bytes takes a positive byte count, optionally with a K, M or G suffix; got '{text}'.");
    }

    static Table SourceTable(FootageBuild build)
    {
        var table = new Table().Border(TableBorder.Rounded).Title("clips per source (frame numbers at the dataset's frame rate)");
        table.AddColumn("source");
        foreach (var column in new[] { "native fps", "frames", "training clips", "held-out clips" }) table.AddColumn(new TableColumn(column).RightAligned());
        table.AddColumn("held-out frames");
        int clipFrames = build.Sources[0].Plan.ClipFrames;
        foreach (var source in build.Sources)
            table.AddRow(Markup.Escape(source.Name), source.NativeFps.ToString("0.###", CultureInfo.InvariantCulture),
                source.Plan.FrameCount.ToString(CultureInfo.InvariantCulture),
                source.TrainingStarts.Count.ToString(CultureInfo.InvariantCulture), source.HeldOutStarts.Count.ToString(CultureInfo.InvariantCulture),
                source.HeldOutStarts.Count == 0 ? "-" : string.Join(", ", source.HeldOutStarts.Select(s => $"{s}-{s + clipFrames - 1}")));
        return table;
    }
}
