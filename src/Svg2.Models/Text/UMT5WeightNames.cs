namespace Svg2.Models.Text;

/// <summary>How a umT5 encoder checkpoint names its tensors.</summary>
public enum UMT5WeightNames
{
    /// <summary>The public Wan 2.1 code's (models_t5_umt5-xxl-enc-bf16.pth): token_embedding.weight, blocks.{i}.attn.q.weight, ...</summary>
    Official,

    /// <summary>transformers' UMT5EncoderModel (the diffusers layout's text_encoder folder): shared.weight, encoder.block.{i}.layer.0.SelfAttention.q.weight, ...</summary>
    Transformers,
}
