using Svg2.Models.Wan;
using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>One self-attention call of a video transformer, as an <see cref="ISelfAttentionProcessor"/> sees it.</summary>
/// <param name="Layer">Transformer block index.</param>
/// <param name="Step">Denoising step index.</param>
/// <param name="FirstPass">Guidance pass of batch row 0 (0 = conditional, 1 = unconditional).</param>
/// <param name="PassCount">Guidance passes stacked along the batch; part i of the batch is pass FirstPass + i.</param>
/// <param name="Query">[B, H, S, D] after the q projection, RMSNorm and the rotary embedding.</param>
/// <param name="Key">[B, H, S, D] after the k projection, RMSNorm and the rotary embedding.</param>
/// <param name="Value">[B, H, S, D].</param>
/// <param name="Grid">The latent token grid; S = Grid.Tokens and tokens are frame-major.</param>
public sealed record AttentionCall(int Layer, int Step, int FirstPass, int PassCount, Tensor Query, Tensor Key, Tensor Value, LatentGrid Grid);
