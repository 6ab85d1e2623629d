using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>
/// Reads initial noise from a safetensors file, to start a generation from latents another implementation
/// drew: the tensor named <c>noise</c> (or the file's only tensor), floating-point, [1, C, F', H', W'] or
/// [C, F', H', W'].
/// </summary>
public static class NoiseFile
{
    /// <summary>The tensor name looked for first.</summary>
    public const string TensorName = "noise";

    /// <summary>Reads the noise as float32 [1, C, F', H', W'] on the CPU and checks it against <paramref name="expectedShape"/>.</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="ArgumentException">The file holds no tensor named noise and not exactly one tensor, or the tensor is not
    /// floating-point, or its shape is not <paramref name="expectedShape"/> (with or without the batch dimension).</exception>
    public static Tensor Read(string path, long[] expectedShape)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"Noise file not found: {path}", path);
        using var file = SafeTensorsFile.Open(path);
        string name = file.Contains(TensorName) ? TensorName
            : file.Names.Count == 1 ? file.Names.First()
            : throw new ArgumentException($"{path} holds {file.Names.Count} tensors ({string.Join(", ", file.Names.Take(8))}) and none named '{TensorName}'; " +
                "put the initial noise under that name.");
        var info = file.Info(name);
        if (info.Type is not (ScalarType.Float32 or ScalarType.Float64 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"Tensor '{name}' in {path} is {info.DType}; initial noise must be floating-point (F32, F64, BF16 or F16).");
        bool batched = info.Shape.Length == expectedShape.Length && info.Shape.SequenceEqual(expectedShape);
        bool unbatched = info.Shape.Length == expectedShape.Length - 1 && expectedShape[0] == 1 && info.Shape.SequenceEqual(expectedShape.Skip(1));
        if (!batched && !unbatched)
            throw new ArgumentException($"Tensor '{name}' in {path} has shape {info.ShapeText}; this request's latents are [{string.Join(", ", expectedShape)}] " +
                "(channels, latent frames, height and width: check --size and --frames).");
        var noise = file.Read(name);
        if (noise.dtype != ScalarType.Float32)
        {
            var stored = noise;
            noise = stored.to(ScalarType.Float32);
            stored.Dispose();
        }
        return unbatched ? noise.unsqueeze_(0) : noise;
    }
}
