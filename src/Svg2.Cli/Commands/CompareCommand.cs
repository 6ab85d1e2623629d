using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using Svg2.Cli.Rendering;
using Svg2.Models.Quality;
using Svg2.Models.Video;

namespace Svg2.Cli.Commands;

/// <summary><c>svg2 compare A B</c>: per-frame PSNR and SSIM of two videos, as the SVG2 reference measures sparse against dense.</summary>
internal static class CompareCommand
{
    internal const string LpipsNote = "not computed: LPIPS needs pretrained VGG weights, which are not bundled";

    public static Command Create()
    {
        var first = new Argument<string>("A") { Description = "the reference video (for example the dense one): a video file or a folder of PNG frames" };
        var second = new Argument<string>("B") { Description = "the video to measure against it, in either form; same frame count and size" };
        var csv = new Option<string?>("--csv") { Description = "write frame, psnr_db, ssim per frame to this CSV file (an identical frame's PSNR is inf)" };
        var plot = new Option<string?>("--plot") { Description = "draw the per-frame PSNR and SSIM curves into this PNG file" };
        var json = new Option<string?>("--json") { Description = "write the summary and the per-frame figures to this JSON file" };
        var window = new Option<SsimWindow>("--ssim-window") { Description = "SSIM window: box (the reference's 11x11 average) or gaussian (sigma 1.5)", DefaultValueFactory = _ => SsimWindow.Box };
        var ffmpeg = new Option<string?>("--ffmpeg") { Description = $"the ffmpeg program or its folder, with ffprobe beside it (default: {FFmpegTools.EnvironmentVariable}, then PATH)" };
        var command = new Command("compare",
            "PSNR and SSIM of video B against video A, frame by frame, as the SVG2 reference computes them: frames in [0, 1], " +
            $"PSNR from the MSE over all channels, SSIM with an 11x11 window per channel. The mean PSNR caps each frame at {VideoComparison.PsnrCapDb:0} dB " +
            $"(an identical frame's PSNR is infinite). LPIPS is {LpipsNote}.");
        command.Arguments.Add(first);
        command.Arguments.Add(second);
        foreach (var option in new Option[] { csv, plot, json, window, ffmpeg }) command.Options.Add(option);
        command.SetAction(result => CommandErrors.Run(() =>
        {
            string a = result.GetValue(first)!, b = result.GetValue(second)!;
            if (Directory.Exists(a) && Directory.Exists(b))
                CommandErrors.RejectUnused(result, [ffmpeg], "A and B are both folders of PNG frames, which are read without ffmpeg");
            var tools = FFmpegTools.Find(result.GetValue(ffmpeg));
            using var videoA = VideoReader.Read(a, tools: tools);
            using var videoB = VideoReader.Read(b, tools: tools);
            var comparison = VideoComparison.Compute(videoA, videoB, result.GetValue(window), a, b);
            long height = videoA.shape[1], width = videoA.shape[2];

            AnsiConsole.Write(SummaryTable(a, b, height, width, comparison));
            AnsiConsole.MarkupLineInterpolated($"PSNR: the mean caps each frame at {VideoComparison.PsnrCapDb:0} dB; {comparison.IdenticalFrames} of {comparison.FrameCount} frames are identical (infinite PSNR).");
            AnsiConsole.MarkupLineInterpolated($"SSIM window: {comparison.Window}. LPIPS: {LpipsNote}.");
            if (result.GetValue(csv) is { } csvPath) WriteCsv(csvPath, comparison);
            if (result.GetValue(plot) is { } plotPath) ComparePlot.Save(plotPath, $"{Path.GetFileName(b)} against {Path.GetFileName(a)}", comparison);
            if (result.GetValue(json) is { } jsonPath) JsonReports.Write(jsonPath, CompareReport.From(a, b, height, width, comparison, LpipsNote));
            return 0;
        }));
        return command;
    }

    static Table SummaryTable(string a, string b, long height, long width, VideoComparison comparison)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .Title(Markup.Escape($"{b} against {a}: {comparison.FrameCount} frames of {height}x{width}"));
        table.AddColumn("metric");
        foreach (var column in new[] { "mean", "min", "max" }) table.AddColumn(new TableColumn(column).RightAligned());
        table.AddRow("PSNR (dB)", Decibels(comparison.MeanPsnr), Decibels(comparison.MinPsnr), Decibels(comparison.MaxPsnr));
        table.AddRow("SSIM", Ratio(comparison.MeanSsim), Ratio(comparison.MinSsim), Ratio(comparison.MaxSsim));
        return table;
    }

    static string Decibels(double value) => double.IsPositiveInfinity(value) ? "∞ (identical)" : value.ToString("0.000", CultureInfo.InvariantCulture);

    static string Ratio(double value) => value.ToString("0.00000", CultureInfo.InvariantCulture);

    static void WriteCsv(string path, VideoComparison comparison)
    {
        using var writer = new StreamWriter(path);
        writer.WriteLine("frame,psnr_db,ssim");
        for (int i = 0; i < comparison.FrameCount; i++)
            writer.WriteLine(string.Join(',', i.ToString(CultureInfo.InvariantCulture),
                double.IsPositiveInfinity(comparison.Psnr[i]) ? "inf" : comparison.Psnr[i].ToString("R", CultureInfo.InvariantCulture),
                comparison.Ssim[i].ToString("R", CultureInfo.InvariantCulture)));
    }
}
