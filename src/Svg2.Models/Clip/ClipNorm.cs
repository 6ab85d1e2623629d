using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

static class ClipNorm
{
    /// <summary>LayerNorm in float32, rounded back to the input's dtype (the public code's LayerNorm subclass).</summary>
    public static Tensor Apply(LayerNorm norm, Tensor x)
    {
        using var scope = NewDisposeScope();
        var normalised = nn.functional.layer_norm(x.to(ScalarType.Float32), [x.shape[^1]],
            norm.weight!.to(ScalarType.Float32), norm.bias!.to(ScalarType.Float32), norm.eps);
        return normalised.to(x.dtype).MoveToOuterDisposeScope();
    }
}
