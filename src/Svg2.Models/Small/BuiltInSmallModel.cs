using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Small;

/// <summary>
/// The small footage model that ships with the library: the repository's models/small-footage/model.safetensors,
/// copied next to Svg2.Models.dll by every build and publish that references the library (and packed with
/// it), and found there at run time.
/// </summary>
public static class BuiltInSmallModel
{
    /// <summary>The file's path relative to the application folder.</summary>
    public static string RelativePath { get; } = Path.Combine("models", "small-footage", "model.safetensors");

    /// <summary>Where the built-in model is looked for: the application folder's <see cref="RelativePath"/>.</summary>
    public static string ExpectedPath => Path.Combine(AppContext.BaseDirectory, RelativePath);

    /// <summary>Whether this build carries the built-in model.</summary>
    public static bool IsAvailable => File.Exists(ExpectedPath);

    /// <summary>
    /// Loads the built-in model onto <paramref name="device"/> (the CPU when null) with weights of
    /// <paramref name="dtype"/> (when null: bf16 on a GPU, float32 on the CPU).
    /// </summary>
    /// <exception cref="FileNotFoundException">This build has no built-in model; the message says where it was looked for and how to get one.</exception>
    public static SmallVideoModel Load(Device? device = null, ScalarType? dtype = null)
    {
        var path = ExpectedPath;
        if (!File.Exists(path))
            throw new FileNotFoundException($"This build carries no built-in small video model (looked for {path}). Train one with 'svg2 train' " +
                "(docs/small-model.md) and put its model.safetensors in the repository's models/small-footage/ before building, or load a file by its path.", path);
        var onDevice = device ?? CPU;
        return SmallVideoModelFile.Read(path, onDevice, dtype ?? (onDevice.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32));
    }
}
