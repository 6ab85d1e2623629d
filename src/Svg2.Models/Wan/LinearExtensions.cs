using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

static class LinearExtensions
{
    /// <summary>
    /// Applies a linear layer in its weight's dtype, whatever the input's: with bf16 weights this is
    /// what the reference's bf16 autocast does, while residuals and modulation stay in float32.
    /// </summary>
    public static Tensor ApplyInWeightType(this Linear linear, Tensor input)
    {
        using var cast = input.to(linear.weight!.dtype);
        return nn.functional.linear(cast, linear.weight, linear.bias);
    }

    /// <summary>Applies a linear layer in float32 (the reference runs the time embedding and the head in float32).</summary>
    public static Tensor ApplyInFloat32(this Linear linear, Tensor input)
    {
        using var scope = NewDisposeScope();
        var result = nn.functional.linear(input.to(ScalarType.Float32), linear.weight!.to(ScalarType.Float32), linear.bias?.to(ScalarType.Float32));
        return result.MoveToOuterDisposeScope();
    }
}
