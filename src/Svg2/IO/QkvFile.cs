using static TorchSharp.torch;

namespace Svg2.IO;

/// <summary>
/// Attention inputs stored as a safetensors file with tensors <c>q</c>, <c>k</c> and <c>v</c>, each
/// [B, H, S, D] in F32, BF16 or F16.
/// </summary>
public static class QkvFile
{
    static readonly string[] SupportedTypes = ["F32", "BF16", "F16"];

    /// <summary>Reads and checks q, k and v (shape, dtype, finite values); errors name the file, the tensor and the problem.</summary>
    public static (Tensor Q, Tensor K, Tensor V) Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var tensors = new Tensor[3];
        string[] names = ["q", "k", "v"];
        for (int i = 0; i < names.Length; i++)
        {
            if (!file.Contains(names[i]))
                throw new SafeTensorsFormatException($"{path} has no tensor '{names[i]}' (it holds: {string.Join(", ", file.Names)}); q, k and v are required.");
            var info = file.Info(names[i]);
            if (!SupportedTypes.Contains(info.DType))
                throw new SafeTensorsFormatException($"Tensor '{names[i]}' in {path} is {info.DType}; q, k, v must be F32, BF16 or F16.");
            if (info.Shape.Length != 4)
                throw new SafeTensorsFormatException($"Tensor '{names[i]}' in {path} has shape {info.ShapeText}; q, k, v must be [B, H, S, D].");
            tensors[i] = file.Read(names[i]);
        }
        Attention.AttentionInputs.Validate(tensors[0], tensors[1], tensors[2]);
        // NaN and infinity are refused here rather than propagated: in the operator they make a head's
        // clustering degenerate and its output NaN or meaningless (docs/design.md, "Non-finite inputs").
        for (int i = 0; i < names.Length; i++) Attention.AttentionInputs.RequireFinite(tensors[i], $"Tensor '{names[i]}' in {path}");
        return (tensors[0], tensors[1], tensors[2]);
    }
}
