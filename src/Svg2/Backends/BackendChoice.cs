using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// Picks the backend for a problem: the preferred (fast) backend when it supports the inputs,
/// otherwise the portable reference, with the preferred backend's reason for declining.
/// </summary>
public static class BackendChoice
{
    /// <summary>The backend to use for [G, N, D] inputs.</summary>
    /// <param name="preferred">The fast backend, or null for the reference.</param>
    /// <param name="q">[G, N, D].</param>
    /// <param name="k">[G, N, D].</param>
    /// <param name="v">[G, N, D].</param>
    /// <param name="fallbackReason">Why the preferred backend was not used; null when it was (or none was preferred).</param>
    public static ISvg2Backend For(ISvg2Backend? preferred, Tensor q, Tensor k, Tensor v, out string? fallbackReason)
    {
        fallbackReason = null;
        if (preferred is null) return ReferenceBackend.Instance;
        if (preferred.Supports(q, k, v, out var reason)) return preferred;
        fallbackReason = $"the {preferred.Name} backend cannot run these inputs ({reason}); using the {ReferenceBackend.Instance.Name} backend";
        return ReferenceBackend.Instance;
    }

    /// <summary>
    /// The backend for an operator with these options: <paramref name="preferred"/> (the reference when
    /// null), unless the options compensate skipped key clusters and the preferred backend cannot
    /// (<see cref="ICompensatingBackend"/>); then the reference, with the reason.
    /// </summary>
    /// <exception cref="NotSupportedException">
    /// FP8 precision on a backend without FP8 kernels (<see cref="IFp8AttentionBackend"/>): falling back to the reference
    /// would run orders of magnitude slower than the kernels FP8 is meant to speed up, so it is refused instead.
    /// </exception>
    public static ISvg2Backend For(ISvg2Backend? preferred, Configuration.Svg2Options options, out string? fallbackReason)
    {
        fallbackReason = null;
        if (preferred is null) return ReferenceBackend.Instance;
        if (options.Precision == Configuration.AttentionPrecision.Fp8 && preferred is not IFp8AttentionBackend)
            throw Attention.Fp8.Fp8Support.NoKernels(preferred.Name);
        if (options.Compensation == Algorithm.CompensationMode.None || preferred is ICompensatingBackend) return preferred;
        fallbackReason = $"the {preferred.Name} backend has no kernels for centroid compensation and error-aware routing yet (svg2-ear); using the {ReferenceBackend.Instance.Name} backend";
        return ReferenceBackend.Instance;
    }
}
