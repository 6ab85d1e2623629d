using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>Small predicates on tensors used by argument checks.</summary>
internal static class TensorPredicates
{
    /// <summary>Whether two tensors live on the same device (type and index; Device has no value equality).</summary>
    public static bool SameDevice(Tensor a, Tensor b) => a.device_type == b.device_type && a.device_index == b.device_index;

    /// <summary>"[a, b, c]".</summary>
    public static string Shape(Tensor t) => $"[{string.Join(", ", t.shape)}]";
}
