using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Kernels;

/// <summary>
/// The fast-numerics block steps as TorchSharp operations on any device and dtype: the reference the
/// fused CUDA kernels are checked against, and the path wherever they cannot run.
/// </summary>
public sealed class TorchWanBlockKernels : IWanBlockKernels
{
    /// <summary>A shared instance; the class holds no state.</summary>
    public static TorchWanBlockKernels Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "torch";

    /// <inheritdoc/>
    public bool Supports(Tensor x, out string? reason)
    {
        reason = x.dim() == 3 ? null : $"activations must be [B, S, W]; got [{string.Join(", ", x.shape)}].";
        return reason is null;
    }

    /// <inheritdoc/>
    public Tensor ModulatedLayerNorm(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps)
    {
        WanBlockKernelChecks.RequireModulation(x, shift, scale);
        using var scope = NewDisposeScope();
        var normalised = nn.functional.layer_norm(x.to(ScalarType.Float32), [x.shape[^1]],
            weight?.to(ScalarType.Float32), bias?.to(ScalarType.Float32), eps);
        if (shift is not null) normalised = normalised * (1 + scale!.unsqueeze(1)) + shift.unsqueeze(1);
        return normalised.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public void GatedResidualAdd(Tensor x, Tensor y, Tensor? gate)
    {
        WanBlockKernelChecks.RequireResidual(x, y, gate);
        using var scope = NewDisposeScope();
        var update = gate is null ? y.to(ScalarType.Float32) : y.to(ScalarType.Float32) * gate.unsqueeze(1);
        x.copy_(x.to(ScalarType.Float32) + update);
    }

    /// <inheritdoc/>
    public Tensor RmsNormToHeads(Tensor x, Tensor weight, int heads, Tensor? cos, Tensor? sin, double eps)
    {
        WanBlockKernelChecks.RequireRmsNorm(x, weight, heads, cos, sin);
        using var scope = NewDisposeScope();
        long batch = x.shape[0], tokens = x.shape[1];
        var values = x.to(ScalarType.Float32);
        var normalised = values * rsqrt(values.pow(2).mean([-1], keepdim: true) + eps) * weight.to(ScalarType.Float32);
        var split = normalised.view(batch, tokens, heads, -1);
        if (cos is not null) split = WanRotaryEmbedding.Rotate(split, cos, sin!);
        return split.transpose(1, 2).to(x.dtype).contiguous().MoveToOuterDisposeScope();
    }
}
