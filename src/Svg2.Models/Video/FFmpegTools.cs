using FFMpegCore;
using FFMpegCore.Enums;

namespace Svg2.Models.Video;

/// <summary>
/// The folder that holds the <c>ffmpeg</c> and <c>ffprobe</c> programs (Debian's <c>ffmpeg</c> package installs
/// both in /usr/bin). Found from an explicit location, else the <c>FFMPEG</c> environment variable, else PATH; a
/// location is the ffmpeg program itself or its folder, and ffprobe is looked for beside it.
/// </summary>
public sealed class FFmpegTools
{
    /// <summary>The environment variable that names the ffmpeg program or its folder.</summary>
    public const string EnvironmentVariable = "FFMPEG";

    FFmpegTools(string folder) => Folder = folder;

    /// <summary>The folder that holds ffmpeg (and, for reading videos, ffprobe).</summary>
    public string Folder { get; }

    /// <summary>Full path of the ffmpeg program.</summary>
    public string FFmpegPath => Path.Combine(Folder, ProgramName("ffmpeg"));

    /// <summary>Full path of the ffprobe program (it may be absent; see <see cref="RequireFFprobe"/>).</summary>
    public string FFprobePath => Path.Combine(Folder, ProgramName("ffprobe"));

    /// <summary>
    /// Finds ffmpeg: at <paramref name="location"/> when given, else where <c>FFMPEG</c> points, else on PATH.
    /// Returns null only when neither is set and PATH has no ffmpeg.
    /// </summary>
    /// <exception cref="FFmpegNotFoundException">An explicit location or <c>FFMPEG</c> does not lead to an ffmpeg program.</exception>
    public static FFmpegTools? Find(string? location = null)
    {
        if (!string.IsNullOrWhiteSpace(location)) return AtLocation(location, "the ffmpeg option");
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
            return AtLocation(fromEnvironment, $"the {EnvironmentVariable} environment variable");
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(folder => File.Exists(Path.Combine(folder, ProgramName("ffmpeg"))))
            .Select(folder => new FFmpegTools(Path.GetFullPath(folder)))
            .FirstOrDefault();
    }

    /// <summary>Like <see cref="Find"/>, but a missing ffmpeg is an error that says where it was looked for and how to install it.</summary>
    /// <exception cref="FFmpegNotFoundException">No ffmpeg was found.</exception>
    public static FFmpegTools Require(string? location = null) =>
        Find(location) ?? throw new FFmpegNotFoundException(
            $"ffmpeg was not found on PATH and {EnvironmentVariable} is not set; install it (Debian: apt-get install ffmpeg) or point {EnvironmentVariable} at it.");

    /// <summary>Throws unless ffprobe lies beside ffmpeg (reading a video file needs it).</summary>
    /// <exception cref="FFmpegNotFoundException">ffprobe is missing.</exception>
    public void RequireFFprobe()
    {
        if (!File.Exists(FFprobePath))
            throw new FFmpegNotFoundException($"ffprobe was not found beside ffmpeg in {Folder}; reading a video needs both (Debian's ffmpeg package has both).");
    }

    /// <summary>FFMpegCore's options for these programs; only errors are logged, so ffmpeg's stderr is the cause alone.</summary>
    internal FFOptions Options => new() { BinaryFolder = Folder, LogLevel = FFMpegLogLevel.Error };

    static FFmpegTools AtLocation(string location, string source)
    {
        string full = Path.GetFullPath(location);
        if (Directory.Exists(full))
        {
            if (File.Exists(Path.Combine(full, ProgramName("ffmpeg")))) return new FFmpegTools(full);
            throw new FFmpegNotFoundException($"{source} names the folder {location}, which holds no {ProgramName("ffmpeg")} program.");
        }
        if (File.Exists(full))
        {
            // FFMpegCore runs the programs by their usual names inside one folder.
            if (Path.GetFileName(full) != ProgramName("ffmpeg"))
                throw new FFmpegNotFoundException($"{source} names {location}; it must be a program named {ProgramName("ffmpeg")} or the folder that holds it.");
            return new FFmpegTools(Path.GetDirectoryName(full)!);
        }
        throw new FFmpegNotFoundException($"{source} names {location}, which does not exist.");
    }

    static string ProgramName(string name) => OperatingSystem.IsWindows() ? name + ".exe" : name;
}
