using static TorchSharp.torch;

namespace Svg2.Models.Wan;

static class WanNorms
{
    /// <summary>Layer normalisation over the last dimension computed in float32 (as the reference does), returning float32.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor? weight, Tensor? bias, double eps)
    {
        using var scope = NewDisposeScope();
        var normalised = nn.functional.layer_norm(x.to(ScalarType.Float32), [x.shape[^1]],
            weight?.to(ScalarType.Float32), bias?.to(ScalarType.Float32), eps);
        return normalised.MoveToOuterDisposeScope();
    }
}
