using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>The smoothing that <see cref="Fp8AttentionSettings"/> asks for, applied before quantisation.</summary>
internal static class Fp8Smoothing
{
    /// <summary>
    /// q and k as they are quantised ([G, N, D]: smoothed in float32, or as given) and Q smoothing's [G, Nk] key bias
    /// (null without it), all in original token order.
    /// </summary>
    public static (Tensor Queries, Tensor Keys, Tensor? KeyBias) Apply(Tensor q, Tensor k, Fp8AttentionSettings settings)
    {
        var keys = settings.SmoothKeys ? KeySmoothing.Smooth(k) : k;
        if (!settings.SmoothQueries) return (q, keys, null);
        var (queries, bias) = QuerySmoothing.Smooth(q, keys);
        return (queries, keys, bias);
    }
}
