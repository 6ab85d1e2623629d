namespace Svg2.Models.Pipelines;

/// <summary>Loads the video model a folder holds, or the built-in one.</summary>
public static class VideoModels
{
    /// <summary>The model in <paramref name="folder"/> (a Wan 2.1 release or its diffusers layout), or the built-in small model when null.</summary>
    public static VideoModel Load(string? folder, VideoModelOptions options) =>
        throw new NotSupportedException(folder is null ? "The built-in model is not available in this build." : $"Loading {folder} is not available in this build.");
}
