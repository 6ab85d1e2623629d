using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// Wan's cross-attention from video tokens to text tokens, and for image to video also to CLIP image
/// tokens (a second attention with its own k_img, v_img and norm_k_img, summed before the output
/// projection). Checkpoint keys: q, k, v, o, norm_q, norm_k, and k_img, v_img, norm_k_img.
/// </summary>
public sealed class WanCrossAttention : nn.Module
{
    readonly int _heads;
    readonly int _textLength;

    internal Linear Q { get; }
    internal Linear K { get; }
    internal Linear V { get; }
    internal Linear O { get; }
    internal WanRmsNorm NormQ { get; }
    internal WanRmsNorm NormK { get; }
    internal Linear? KImage { get; }
    internal Linear? VImage { get; }
    internal WanRmsNorm? NormKImage { get; }

    /// <summary>Creates the layer for the config's model type.</summary>
    public WanCrossAttention(WanConfig config, Device? device, ScalarType dtype) : base(nameof(WanCrossAttention))
    {
        _heads = config.Heads;
        _textLength = config.TextLength;
        Q = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        K = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        V = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        O = nn.Linear(config.Dim, config.Dim, device: device, dtype: dtype);
        NormQ = new WanRmsNorm(config.Dim, config.Eps, device, dtype);
        NormK = new WanRmsNorm(config.Dim, config.Eps, device, dtype);
        register_module("q", Q);
        register_module("k", K);
        register_module("v", V);
        register_module("o", O);
        register_module("norm_q", NormQ);
        register_module("norm_k", NormK);
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
        Tensor Heads(Tensor t) => t.view(batch, t.shape[1], _heads, -1).transpose(1, 2).to(computeType);

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
        var q = Heads(NormQ.Forward(Q.ApplyInWeightType(x)));
        var k = Heads(NormK.Forward(K.ApplyInWeightType(text)));
        var v = Heads(V.ApplyInWeightType(text));
        var output = nn.functional.scaled_dot_product_attention(q, k, v);
        if (image is not null)
        {
            var kImage = Heads(NormKImage!.Forward(KImage!.ApplyInWeightType(image)));
            var vImage = Heads(VImage!.ApplyInWeightType(image));
            output = output.to(ScalarType.Float32) + nn.functional.scaled_dot_product_attention(q, kImage, vImage).to(ScalarType.Float32);
        }
        var merged = output.transpose(1, 2).reshape(batch, x.shape[1], -1);
        return O.ApplyInWeightType(merged).MoveToOuterDisposeScope();
    }
}
