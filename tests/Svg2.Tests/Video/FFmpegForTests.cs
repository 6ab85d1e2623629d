using System.Diagnostics;
using Svg2.Models.Video;

namespace Svg2.Tests.Video;

/// <summary>
/// ffmpeg and ffprobe for the tests that need them. Where they are missing such a test fails, naming what is
/// missing (.ci/run installs Debian's ffmpeg package), instead of passing as skipped.
/// </summary>
static class FFmpegForTests
{
    public static FFmpegTools Tools
    {
        get
        {
            var tools = FFmpegTools.Find();
            if (tools is null || !File.Exists(tools.FFprobePath))
                throw new InvalidOperationException("This test needs ffmpeg and ffprobe on PATH or through FFMPEG (Debian: apt-get install ffmpeg; .ci/run installs it).");
            return tools;
        }
    }

    /// <summary>Runs ffmpeg or ffprobe (by name, from <see cref="Tools"/>) and returns its standard output; a failure fails the test.</summary>
    public static string Run(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(Tools.Folder, program)) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{program} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error.Result}");
        return output;
    }

    /// <summary>Writes ffmpeg's moving test pattern (testsrc) as an MP4 of <paramref name="frames"/> frames.</summary>
    public static string TestPattern(string folder, string name, int frames, int width, int height, int rate)
    {
        string path = Path.Combine(folder, name);
        Run("ffmpeg", "-v", "error", "-f", "lavfi", "-i", $"testsrc=size={width}x{height}:rate={rate}", "-frames:v", frames.ToString(),
            "-c:v", "libx264", "-pix_fmt", "yuv420p", path);
        return path;
    }

    /// <summary>
    /// A stand-in ffmpeg (a shell script in a new folder) that answers -version like ffmpeg, then writes a few bytes
    /// to the .mp4 file it is asked for and fails the way <paramref name="failure"/> says (shell commands).
    /// </summary>
    public static string FailingFFmpeg(string folder, string failure)
    {
        if (OperatingSystem.IsWindows()) throw new PlatformNotSupportedException("The stand-in ffmpeg is a POSIX shell script.");
        string bin = Directory.CreateDirectory(Path.Combine(folder, "fake-ffmpeg-" + Guid.NewGuid().ToString("N"))).FullName;
        string script = Path.Combine(bin, "ffmpeg");
        File.WriteAllText(script, $$"""
            #!/bin/sh
            if [ "$1" = "-version" ]; then echo "ffmpeg version 5.1"; exit 0; fi
            for a in "$@"; do case "$a" in *.mp4) printf 'partial' > "$a";; esac; done
            {{failure}}
            """);
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return bin;
    }
}
