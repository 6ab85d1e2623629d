using Svg2.Models.Attention;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Wan's self-attention: q, k, v projections, RMSNorm on q and k across the full width, the 3D rotary
/// embedding, attention by the given processor, and the output projection. Checkpoint keys: q, k, v, o
/// (weight, bias), norm_q.weight, norm_k.weight.
/// </summary>
public sealed class WanSelfAttention : WanAttentionProjections
{


    /// <summary>Creates the layer.</summary>
    public WanSelfAttention(WanConfig config, Device? device, ScalarType dtype) : base(nameof(WanSelfAttention), config, device, dtype)
    {
    }

    /// <summary>Self-attention of x, [B, S, dim]; returns [B, S, dim] in the weights' dtype.</summary>
    public Tensor Forward(Tensor x, WanRotaryEmbedding rope, ISelfAttentionProcessor processor, int layer, ForwardContext context)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], tokens = x.shape[1];
        var computeType = Q.weight!.dtype;
        // The reference rotates in high precision and rounds to the attention dtype only at the kernel.
        var q = rope.Apply(NormQ.Forward(Q.ApplyInWeightType(x)).view(batch, tokens, Heads, -1)).to(computeType);
        var k = rope.Apply(NormK.Forward(K.ApplyInWeightType(x)).view(batch, tokens, Heads, -1)).to(computeType);
        var v = V.ApplyInWeightType(x).view(batch, tokens, Heads, -1);
        var call = new AttentionCall(layer, context.Step, context.FirstPass, context.PassCount,
            q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), rope.Grid);
        var attended = processor.Process(call);
        var expected = new[] { batch, (long)Heads, tokens, q.shape[3] };
        if (!attended.shape.SequenceEqual(expected))
            throw new InvalidOperationException($"Attention processor {processor.GetType().Name} returned [{string.Join(", ", attended.shape)}], expected [{string.Join(", ", expected)}].");
        var merged = attended.transpose(1, 2).reshape(batch, tokens, -1);
        return O.ApplyInWeightType(merged).MoveToOuterDisposeScope();
    }
}
