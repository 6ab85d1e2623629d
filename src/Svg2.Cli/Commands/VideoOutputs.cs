using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>Writes a generated video and, on request, its lossless frames.</summary>
internal static class VideoOutputs
{
    /// <summary>Writes <paramref name="video"/> ([1, 3, F, H, W] in [-1, 1]) and returns the paths written.</summary>
    public static IReadOnlyList<string> Write(Tensor video, double fps, string path, string? losslessFolder) =>
        throw new NotSupportedException("Video output is not available in this build.");
}
