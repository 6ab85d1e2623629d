using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>Exact attention by PyTorch's fused scaled-dot-product attention (softmax scale 1/sqrt(D)).</summary>
public sealed class DenseAttentionProcessor : ISelfAttentionProcessor
{
    /// <summary>A shared instance; the processor holds no state.</summary>
    public static DenseAttentionProcessor Instance { get; } = new();

    /// <inheritdoc />
    public Tensor Process(AttentionCall call) => nn.functional.scaled_dot_product_attention(call.Query, call.Key, call.Value);
}
