using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Clip;

/// <summary>
/// The CLIP vision tower as Wan 2.1 image to video runs it (wan/modules/clip.py, <c>VisionTransformer</c>
/// with pool type "token", pre-norm and GELU, called with <c>use_31_block=True</c>): a 14-pixel patch
/// convolution without bias, the class token, learned positions, a LayerNorm, and all blocks but the last;
/// the output is every token of the second-to-last block, with no final norm, pooling or projection.
/// Parameter names are the official checkpoint's keys under <c>visual.</c> (patch_embedding.weight,
/// cls_embedding, pos_embedding, pre_norm, transformer.{i}.attn.to_qkv, ...);
/// <see cref="ClipCheckpoint"/> also loads transformers' CLIPVisionModel names.
/// </summary>
/// <remarks>
/// Parameters are created uninitialised and do not require gradients. Float32 or bf16 weights: every
/// operation runs in the weights' dtype except the LayerNorms, which run in float32 and round back, as the
/// public code does under autocast with weights of that dtype.
/// </remarks>
public sealed class ClipVisionEncoder : nn.Module
{
    /// <summary>The configuration the encoder was built with.</summary>
    public ClipVisionConfig Config { get; }

    internal Conv2d PatchEmbedding { get; }
    internal Parameter ClassEmbedding { get; }
    internal Parameter PositionEmbedding { get; }
    internal LayerNorm PreNorm { get; }
    internal ModuleList<ClipAttentionBlock> Blocks { get; }

    /// <summary>Creates the encoder with uninitialised weights on <paramref name="device"/> (the CPU when null).</summary>
    /// <exception cref="ArgumentException">The configuration is invalid, or the dtype is not float32, bf16 or f16.</exception>
    public ClipVisionEncoder(ClipVisionConfig config, Device? device = null, ScalarType dtype = ScalarType.BFloat16) : base(nameof(ClipVisionEncoder))
    {
        config.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"The CLIP vision encoder runs in float32, bf16 or f16; got {dtype}.");
        Config = config;
        PatchEmbedding = nn.Conv2d(3, config.Dim, config.PatchSize, stride: config.PatchSize, bias: false, device: device, dtype: dtype);
        ClassEmbedding = new Parameter(empty([1, 1, config.Dim], dtype, device), requires_grad: false);
        PositionEmbedding = new Parameter(empty([1, config.Tokens, config.Dim], dtype, device), requires_grad: false);
        PreNorm = nn.LayerNorm(config.Dim, config.Eps, device: device, dtype: dtype);
        Blocks = new ModuleList<ClipAttentionBlock>();
        for (int layer = 0; layer < config.FeatureLayers; layer++) Blocks.Add(new ClipAttentionBlock(config, device, dtype));
        register_module("patch_embedding", PatchEmbedding);
        register_parameter("cls_embedding", ClassEmbedding);
        register_parameter("pos_embedding", PositionEmbedding);
        register_module("pre_norm", PreNorm);
        register_module("transformer", Blocks);
        foreach (var parameter in parameters()) parameter.requires_grad = false;
    }

    /// <summary>The dtype of the weights.</summary>
    public ScalarType WeightType => ClassEmbedding.dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => ClassEmbedding.device;

    /// <summary>
    /// Normalised pixels [B, 3, ImageSize, ImageSize] (any floating type and device; see
    /// <see cref="ClipImagePreprocessing"/>) to features [B, Tokens, Dim] in the weights' dtype on their device.
    /// </summary>
    /// <exception cref="ArgumentException">The pixels are not [B, 3, ImageSize, ImageSize] of a floating type.</exception>
    public Tensor Forward(Tensor pixels)
    {
        if (pixels.dim() != 4 || pixels.shape[1] != 3 || pixels.shape[2] != Config.ImageSize || pixels.shape[3] != Config.ImageSize || !pixels.is_floating_point())
            throw new ArgumentException($"CLIP takes pixels [B, 3, {Config.ImageSize}, {Config.ImageSize}] of a floating type; got {pixels.dtype} [{string.Join(", ", pixels.shape)}].", nameof(pixels));
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        long batch = pixels.shape[0];
        var patches = PatchEmbedding.forward(pixels.to(WeightType, Device)).flatten(2).transpose(1, 2);
        var x = cat([ClassEmbedding.expand(batch, -1, -1), patches], 1) + PositionEmbedding;
        x = ClipNorm.Apply(PreNorm, x);
        foreach (var block in Blocks) x = block.Forward(x);
        return x.MoveToOuterDisposeScope();
    }
}
