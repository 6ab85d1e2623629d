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
    /// x [B, S, dim] attends to context [B, L, dim]; for image to video the context holds the image
    /// tokens first and exactly the text length of text tokens last, as the reference lays it out.
    /// </summary>
    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0];
        var computeType = Q.weight!.dtype;
        Tensor SplitHeads(Tensor t) => t.view(batch, t.shape[1], Heads, -1).transpose(1, 2).to(computeType);

        var text = context;
        Tensor? image = null;
        if (KImage is not null)
        {
            long imageTokens = context.shape[1] - _textLength;
            if (imageTokens <= 0)
                throw new ArgumentException($"Image-to-video context has {context.shape[1]} tokens; expected image tokens followed by {_textLength} text tokens.");
            image = context.narrow(1, 0, imageTokens);
            text = context.narrow(1, imageTokens, _textLength);
        }
        var q = SplitHeads(NormQ.Forward(Q.ApplyInWeightType(x)));
        var k = SplitHeads(NormK.Forward(K.ApplyInWeightType(text)));
        var v = SplitHeads(V.ApplyInWeightType(text));
        var output = nn.functional.scaled_dot_product_attention(q, k, v);
        if (image is not null)
        {
            var kImage = SplitHeads(NormKImage!.Forward(KImage!.ApplyInWeightType(image)));
            var vImage = SplitHeads(VImage!.ApplyInWeightType(image));
            output = output.to(ScalarType.Float32) + nn.functional.scaled_dot_product_attention(q, kImage, vImage).to(ScalarType.Float32);
        }
        var merged = output.transpose(1, 2).reshape(batch, x.shape[1], -1);
        return O.ApplyInWeightType(merged).MoveToOuterDisposeScope();
    }
}
