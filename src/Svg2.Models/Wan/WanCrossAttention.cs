using Svg2.Models.Profiling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Wan's cross-attention from video tokens to text tokens, and for image to video also to CLIP image
/// tokens (a second attention with its own k_img, v_img and norm_k_img, summed before the output
/// projection). Checkpoint keys: q, k, v, o, norm_q, norm_k, and k_img, v_img, norm_k_img.
/// </summary>
public sealed class WanCrossAttention : WanAttentionProjections
{
    readonly int _textLength;

    internal Linear? KImage { get; }
    internal Linear? VImage { get; }
    internal WanRmsNorm? NormKImage { get; }

    /// <summary>Creates the layer for the config's model type.</summary>
    public WanCrossAttention(WanConfig config, Device? device, ScalarType dtype) : base(nameof(WanCrossAttention), config, device, dtype)
    {
        _textLength = config.TextLength;
        if (config.ModelType == WanModelType.ImageToVideo)
        {
            KImage = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
            VImage = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
            NormKImage = new WanRmsNorm(config.Dim, config.Eps, device, dtype);
            register_module("k_img", KImage);
            register_module("v_img", VImage);
            register_module("norm_k_img", NormKImage);
        }
    }

    /// <summary>
    /// Reference numerics: x [B, S, dim] attends to context [B, L, dim]; for image to video the context
    /// holds the image tokens first and exactly the text length of text tokens last, as the reference
    /// lays it out. Returns [B, S, dim] in the weights' dtype.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor context, WanBlockRun run) => Run(x, context, run, fast: false);

    /// <summary>Fast numerics: as <see cref="Forward"/>, with the q and k norms as one pass each in the weights' dtype.</summary>
    public Tensor ForwardFast(Tensor x, Tensor context, WanBlockRun run) => Run(x, context, run, fast: true);

    Tensor Run(Tensor x, Tensor context, WanBlockRun run, bool fast)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0];
        var computeType = Q.weight!.dtype;
        Tensor SplitHeads(Tensor projected, WanRmsNorm? norm)
        {
            run.Enter(WanOpClass.Elementwise);
            if (norm is not null && fast) return run.Kernels.RmsNormToHeads(projected, norm.Weight, Heads, null, null, norm.Eps);
            var normalised = norm is null ? projected : norm.Forward(projected);
            return normalised.view(batch, projected.shape[1], Heads, -1).transpose(1, 2).to(computeType);
        }

        var (text, image) = Split(context);
        run.Enter(WanOpClass.Gemm);
        var (qProjected, kProjected, vProjected) = (Q.ApplyInWeightType(x), K.ApplyInWeightType(text), V.ApplyInWeightType(text));
        var q = SplitHeads(qProjected, NormQ);
        var k = SplitHeads(kProjected, NormK);
        var v = SplitHeads(vProjected, null);
        run.Enter(WanOpClass.CrossAttention);
        var output = nn.functional.scaled_dot_product_attention(q, k, v);
        if (image is not null)
        {
            run.Enter(WanOpClass.Gemm);
            var (kImageProjected, vImageProjected) = (KImage!.ApplyInWeightType(image), VImage!.ApplyInWeightType(image));
            var kImage = SplitHeads(kImageProjected, NormKImage);
            var vImage = SplitHeads(vImageProjected, null);
            run.Enter(WanOpClass.CrossAttention);
            var imageOutput = nn.functional.scaled_dot_product_attention(q, kImage, vImage);
            run.Enter(WanOpClass.Elementwise);
            // The reference (autocast) sums in float32; the fast path, as diffusers, in the weights' dtype.
            output = fast ? output + imageOutput : output.to(ScalarType.Float32) + imageOutput.to(ScalarType.Float32);
        }
        run.Enter(WanOpClass.Elementwise);
        var merged = output.transpose(1, 2).reshape(batch, x.shape[1], -1);
        run.Enter(WanOpClass.Gemm);
        return O.ApplyInWeightType(merged).MoveToOuterDisposeScope();
    }

    (Tensor Text, Tensor? Image) Split(Tensor context)
    {
        if (KImage is null) return (context, null);
        long imageTokens = context.shape[1] - _textLength;
        if (imageTokens <= 0)
            throw new ArgumentException($"Image-to-video context has {context.shape[1]} tokens; expected image tokens followed by {_textLength} text tokens.");
        return (context.narrow(1, imageTokens, _textLength), context.narrow(1, 0, imageTokens));
    }
}
