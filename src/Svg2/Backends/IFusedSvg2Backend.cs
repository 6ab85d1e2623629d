using Svg2.Attention;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// A backend that can also run whole SVG2 calls through a fused pipeline (<see cref="IFusedSvg2Pipeline"/>).
/// <see cref="Svg2Attention"/> asks for it first and falls back to the staged
/// <see cref="ISvg2Backend"/> path when the backend cannot fuse a call or quality statistics are
/// requested.
/// </summary>
/// <remarks>
/// Pipelines are cached by the backend per <see cref="FusedShape"/> and shared by every layer and
/// operator using the backend; their lifetime is the backend's (implementations should be
/// <see cref="IDisposable"/>).
/// </remarks>
public interface IFusedSvg2Backend
{
    /// <summary>
    /// Whether a self-attention call on these [G, S, D] inputs (contiguous) with these trailing text
    /// rows can run fused; when it cannot, <paramref name="reason"/> says why.
    /// </summary>
    bool CanFuse(Tensor q, Tensor k, Tensor v, TextTokens? text, out string? reason);

    /// <summary>The pipeline for <paramref name="shape"/>: created on first use, then shared. Owned by the backend: do not dispose it.</summary>
    IFusedSvg2Pipeline PipelineFor(FusedShape shape);
}
