using System.Collections.Concurrent;
using FFMpegCore;
using FFMpegCore.Exceptions;

namespace Svg2.Models.Video;

/// <summary>Runs one ffmpeg job through FFMpegCore and turns every way it can fail into a <see cref="VideoIOException"/> with ffmpeg's own words.</summary>
internal static class FFmpegRun
{
    // ffmpeg's last error lines say why it stopped; earlier ones are usually the same complaint repeated.
    const int CauseLines = 4;

    /// <summary>Runs the job; <paramref name="task"/> completes "ffmpeg could not ..." in error messages (for example "write out.mp4").</summary>
    /// <exception cref="VideoIOException">ffmpeg failed, was killed, or the data pipe broke.</exception>
    public static void Execute(FFMpegArgumentProcessor job, FFmpegTools tools, string task)
    {
        var errors = new ConcurrentQueue<string>();
        FFMpegResult result;
        try
        {
            result = job.NotifyOnStandardError(line => { if (!string.IsNullOrWhiteSpace(line)) errors.Enqueue(line.Trim()); })
                .ProcessSynchronously(throwOnError: false, tools.Options);
        }
        catch (Exception error) when (error is IOException or FFMpegException or InvalidOperationException)
        {
            throw new VideoIOException($"ffmpeg could not {task}: {Cause(errors, error.Message)}", error);
        }
        if (result.ExitCode != 0)
        {
            string exit = result.ExitCode > 128 ? $"ffmpeg ended by signal {result.ExitCode - 128}" : $"exit code {result.ExitCode}";
            throw new VideoIOException($"ffmpeg could not {task}: {Cause(errors, exit)}");
        }
    }

    static string Cause(IEnumerable<string> errors, string fallback)
    {
        var lines = errors.TakeLast(CauseLines).ToList();
        return lines.Count == 0 ? fallback : $"{string.Join(" / ", lines)} ({fallback})";
    }
}
