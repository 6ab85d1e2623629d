using Svg2.Models.Attention;
using Svg2.Models.Profiling;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Wan's self-attention: q, k, v projections, RMSNorm on q and k across the full width, the 3D rotary
/// embedding, attention by the run's processor, and the output projection. Checkpoint keys: q, k, v, o
/// (weight, bias), norm_q.weight, norm_k.weight.
/// </summary>
public sealed class WanSelfAttention : WanAttentionProjections
{
    /// <summary>Creates the layer.</summary>
    public WanSelfAttention(WanConfig config, Device? device, ScalarType dtype) : base(nameof(WanSelfAttention), config, device, dtype)
    {
    }

    /// <summary>Reference numerics: self-attention of x, [B, S, dim]; returns [B, S, dim] in the weights' dtype.</summary>
    public Tensor Forward(Tensor x, int layer, WanBlockRun run)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], tokens = x.shape[1];
        var computeType = Q.weight!.dtype;
        run.Enter(WanOpClass.Gemm);
        var (qProjected, kProjected, v) = (Q.ApplyInWeightType(x), K.ApplyInWeightType(x), V.ApplyInWeightType(x));
        run.Enter(WanOpClass.Elementwise);
        // The reference rotates in high precision and rounds to the attention dtype only at the kernel.
        var q = run.Rope.Apply(NormQ.Forward(qProjected).view(batch, tokens, Heads, -1)).to(computeType).transpose(1, 2);
        var k = run.Rope.Apply(NormK.Forward(kProjected).view(batch, tokens, Heads, -1)).to(computeType).transpose(1, 2);
        return Attend(q, k, v.view(batch, tokens, Heads, -1).transpose(1, 2), layer, run).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Fast numerics: the q and k norms and the rotation in one pass each, written head-major in the
    /// weights' dtype; returns [B, S, dim] in the weights' dtype.
    /// </summary>
    public Tensor ForwardFast(Tensor x, int layer, WanBlockRun run)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], tokens = x.shape[1];
        run.Enter(WanOpClass.Gemm);
        var (qProjected, kProjected, v) = (Q.ApplyInWeightType(x), K.ApplyInWeightType(x), V.ApplyInWeightType(x));
        run.Enter(WanOpClass.Elementwise);
        var q = run.Kernels.RmsNormToHeads(qProjected, NormQ.Weight, Heads, run.Rope.Cos, run.Rope.Sin, NormQ.Eps);
        var k = run.Kernels.RmsNormToHeads(kProjected, NormK.Weight, Heads, run.Rope.Cos, run.Rope.Sin, NormK.Eps);
        // v head-major too: the sparse kernels need it contiguous, and dense attention gets one layout for all three.
        var headMajorValues = v.view(batch, tokens, Heads, -1).transpose(1, 2).contiguous();
        return Attend(q, k, headMajorValues, layer, run).MoveToOuterDisposeScope();
    }

    /// <summary>The processor's attention on [B, H, S, D] q, k, v, merged back to [B, S, dim] and projected by o.</summary>
    Tensor Attend(Tensor q, Tensor k, Tensor v, int layer, WanBlockRun run)
    {
        long batch = q.shape[0], tokens = q.shape[2];
        var forward = run.Forward;
        var call = new AttentionCall(layer, forward.Step, forward.FirstPass, forward.PassCount, q, k, v, run.Rope.Grid);
        run.Enter(WanOpClass.SelfAttention);
        var attended = run.Processor.Process(call);
        var expected = new[] { batch, (long)Heads, tokens, q.shape[3] };
        if (!attended.shape.SequenceEqual(expected))
            throw new InvalidOperationException($"Attention processor {run.Processor.GetType().Name} returned [{string.Join(", ", attended.shape)}], expected [{string.Join(", ", expected)}].");
        run.Enter(WanOpClass.Elementwise);
        var merged = attended.transpose(1, 2).reshape(batch, tokens, -1);
        run.Enter(WanOpClass.Gemm);
        return O.ApplyInWeightType(merged);
    }
}
