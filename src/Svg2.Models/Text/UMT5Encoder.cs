using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// The umT5 encoder as the public Wan 2.1 code defines it (wan/modules/t5.py, umt5_xxl with
/// encoder_only=True), with parameter names equal to the official checkpoint's keys
/// (token_embedding.weight, blocks.{i}.attn.q.weight, blocks.{i}.pos_embedding.embedding.weight,
/// norm.weight, ...). <see cref="UMT5Checkpoint"/> also loads transformers' UMT5EncoderModel names.
/// </summary>
/// <remarks>
/// Parameters are created uninitialised (load them with <see cref="UMT5Checkpoint.Load(UMT5Encoder, Checkpoints.ITensorSource)"/>) and do not
/// require gradients. Float32, bf16 (Wan's choice) or f16 weights; every operation runs in the weights'
/// dtype except the norms' mean square and the softmax, which run in float32, as in the reference.
/// </remarks>
public sealed class UMT5Encoder : nn.Module
{
    /// <summary>The configuration the encoder was built with.</summary>
    public UMT5Config Config { get; }

    internal UMT5Weight TokenEmbedding { get; }
    internal ModuleList<UMT5Block> Blocks { get; }
    internal UMT5LayerNorm Norm { get; }

    /// <summary>Creates the encoder with uninitialised weights on <paramref name="device"/> (the CPU when null).</summary>
    public UMT5Encoder(UMT5Config config, Device? device = null, ScalarType dtype = ScalarType.BFloat16) : base(nameof(UMT5Encoder))
    {
        config.Validate();
        if (dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            throw new ArgumentException($"The umT5 encoder runs in float32, bf16 or f16; got {dtype}.");
        Config = config;
        TokenEmbedding = new UMT5Weight(config.VocabularySize, config.Dim, device, dtype);
        Blocks = new ModuleList<UMT5Block>();
        for (int layer = 0; layer < config.Layers; layer++) Blocks.Add(new UMT5Block(config, device, dtype));
        Norm = new UMT5LayerNorm(config.Dim, config.Eps, device, dtype);
        register_module("token_embedding", TokenEmbedding);
        register_module("blocks", Blocks);
        register_module("norm", Norm);
    }

    /// <summary>The dtype of the weights.</summary>
    public ScalarType WeightType => TokenEmbedding.Weight.dtype;

    /// <summary>The device of the weights.</summary>
    public Device Device => TokenEmbedding.Weight.device;

    /// <summary>
    /// Moves every weight to <paramref name="device"/>, one tensor at a time, freeing each old copy at once
    /// (so that moving umT5-XXL to the CPU releases its 11 GB of GPU memory without needing twice that).
    /// </summary>
    public void MoveTo(Device device)
    {
        foreach (var module in modules().OfType<UMT5WeightModule>()) module.MoveTo(device);
    }

    /// <summary>
    /// Encodes token ids [B, L] (int64 or int32, on any device) with an optional mask [B, L] (0 at padded
    /// positions, which then take no attention). Returns [B, L, dim] in the weights' dtype on their device;
    /// positions past a prompt's length hold values the caller discards.
    /// </summary>
    /// <exception cref="ArgumentException">The ids or mask have the wrong rank or shape, or an id is outside the vocabulary.</exception>
    public Tensor Forward(Tensor ids, Tensor? mask = null)
    {
        if (ids.dim() != 2) throw new ArgumentException($"umT5 token ids must be [batch, length]; got [{string.Join(", ", ids.shape)}].");
        if (mask is not null && !mask.shape.SequenceEqual(ids.shape))
            throw new ArgumentException($"umT5 attention mask [{string.Join(", ", mask.shape)}] does not match the ids [{string.Join(", ", ids.shape)}].");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var tokens = ids.to(ScalarType.Int64, Device);
        if (tokens.numel() > 0)
        {
            long low = tokens.min().item<long>(), high = tokens.max().item<long>();
            if (low < 0 || high >= Config.VocabularySize)
                throw new ArgumentException($"umT5 token ids range over [{low}, {high}]; the vocabulary has {Config.VocabularySize} entries.");
        }
        var onDevice = mask?.to(Device);
        var x = TokenEmbedding.Lookup(tokens);
        foreach (var block in Blocks) x = block.Forward(x, onDevice);
        return Norm.Forward(x).MoveToOuterDisposeScope();
    }
}
