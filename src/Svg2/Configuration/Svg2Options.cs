using Svg2.Algorithm;
using Svg2.Attention.Fp8;

namespace Svg2.Configuration;

/// <summary>
/// The configuration of one SVG2 attention operator. Defaults are the reference implementation's
/// (Wan 2.1 T2V 720p): 300 query clusters, 1000 key clusters, top_p 0.9, at least 10% of the key
/// clusters, 50 k-means iterations on the first call of a layer and 2 on every later call.
/// </summary>
public sealed record Svg2Options
{
    /// <summary>Query clusters per head (QC).</summary>
    public int QueryClusters { get; init; } = 300;

    /// <summary>Key clusters per head (KC).</summary>
    public int KeyClusters { get; init; } = 1000;

    /// <summary>Attention mass each query cluster's selected key clusters must cover, in (0, 1].</summary>
    public double TopP { get; init; } = 0.9;

    /// <summary>At least floor(ratio x KC) key clusters are kept for every query cluster.</summary>
    public double MinKeyClusterRatio { get; init; } = 0.10;

    /// <summary>K-means iterations from a random start (the first call of a layer).</summary>
    public int InitIterations { get; init; } = 50;

    /// <summary>K-means iterations warm-started from the layer's cached centroids.</summary>
    public int StepIterations { get; init; } = 2;

    /// <summary>
    /// The numerics of k-means' distance products: the inputs' own (<see cref="KMeansPrecision.Input"/>, the default) or
    /// FP8 E4M3 (<see cref="KMeansPrecision.Fp8"/>: about twice the product rate on Hopper tensor cores; the reference
    /// emulates it on any device, the CUDA backend runs it with the Hopper kernels only).
    /// </summary>
    public KMeansPrecision KMeansPrecision { get; init; } = KMeansPrecision.Input;

    /// <summary>Numerics of the top-p cut. Float32 is the default and a documented deviation.</summary>
    public SelectionPrecision SelectionPrecision { get; init; } = SelectionPrecision.Float32;

    /// <summary>Seed of the random k-means initialisation.</summary>
    public long Seed { get; init; }

    /// <summary>
    /// When true (the default), cluster counts too large for a short sequence are scaled down by
    /// <see cref="ClusterCountRule"/>; when false, they are used exactly as given and a count larger
    /// than the number of tokens is an error.
    /// </summary>
    public bool ScaleClusterCounts { get; init; } = true;

    /// <summary>
    /// The mean density (over a call's heads) each layer is driven to, in (0, 1], or null (the
    /// default) to select by <see cref="TopP"/>. When set, it replaces top-p: the first sparse call of
    /// every layer searches the top-p that reaches it by bisection on that call's centroids (reading
    /// densities back to the host, on that first call only), the layer keeps the chosen value in its
    /// <see cref="Attention.Svg2LayerState"/> and later calls reuse it, searching again when a check every
    /// <see cref="Attention.Svg2Attention.BudgetCheckInterval"/> calls finds the density drifted. The minimum kept ratio is
    /// lowered to <see cref="TargetDensityFloor"/> so that it cannot decide the
    /// density by itself.
    /// </summary>
    public double? TargetDensity { get; init; }

    /// <summary>
    /// How the exactly computed key clusters are chosen: SVG2's top-p rule (the default) or error-aware
    /// routing, which needs per-row <see cref="Compensation"/>.
    /// </summary>
    public KeyClusterRouting Routing { get; init; } = KeyClusterRouting.TopP;

    /// <summary>
    /// How skipped key clusters are approximated: not at all (SVG2, the default), or from their key
    /// centroid and mean value, per query row or per query cluster.
    /// </summary>
    public CompensationMode Compensation { get; init; } = CompensationMode.None;

    /// <summary>
    /// τ of per-row compensation's light tail (<see cref="CompensationTail"/>): a skipped block whose size-weighted
    /// centroid weight is below τ / KC of its query cluster's total is compensated per query cluster instead of with
    /// one key per row, so a query cluster's tail holds at most the share τ of its centroid mass. 0 compensates every
    /// skipped block per row. Read only with <see cref="CompensationMode.PerRow"/>.
    /// </summary>
    public double CompensationTailMass { get; init; } = DefaultCompensationTailMass;

    /// <summary>The default <see cref="CompensationTailMass"/>.</summary>
    public const double DefaultCompensationTailMass = 1e-4;

    /// <summary>
    /// λ of error-aware routing (<see cref="ErrorRoutingRule"/>): a block is computed exactly when its
    /// estimated share of the head's squared error is at least λ times its share of the score matrix.
    /// Ignored under top-p routing and replaced by the searched value when <see cref="TargetDensity"/> is set.
    /// </summary>
    public double ErrorThreshold { get; init; } = 1.0;

    /// <summary>
    /// Error-aware routing's probe attends at most this many keys of each key cluster, each weighted for the keys
    /// it stands for (<see cref="ProbeKeySample"/>); null (the default) attends every key. Bounds the probe's cost
    /// by QC x KC x this count. On CUDA the probe kernels walk the sample (inside the fused call).
    /// </summary>
    public int? ProbeKeysPerCluster { get; init; }

    /// <summary>
    /// Where svg2-ear's routing probe takes each query cluster's softmax normaliser and output from (default: the
    /// size-weighted softmax over the key centroids, <see cref="ProbeNormalisation.Centroid"/>, which spares the probe a
    /// pass over the keys and routed better end to end than <see cref="ProbeNormalisation.Exact"/>, docs/quality.md).
    /// </summary>
    public ProbeNormalisation ProbeNormalisation { get; init; } = ProbeNormalisation.Centroid;

    /// <summary>
    /// When true, every call first checks q, k and v for NaN and infinity and throws
    /// <see cref="ArgumentException"/> naming the tensor, the batch element, head, row and column of the
    /// first such value. Off by default: the check is an extra pass over the inputs and reads a flag
    /// back to the host, which synchronises a GPU call. Unchecked non-finite inputs propagate the same
    /// way on every backend (docs/design.md, "Non-finite inputs").
    /// </summary>
    public bool CheckFinite { get; init; }

    /// <summary>
    /// Numerics of the attention stage: the inputs' own (<see cref="AttentionPrecision.BFloat16"/>, the default) or FP8
    /// E4M3, which needs head dimension 64 or 128, no compensation, and a backend with FP8 kernels
    /// (<see cref="Backends.IFp8AttentionBackend"/>: the reference, for now).
    /// </summary>
    public AttentionPrecision Precision { get; init; } = AttentionPrecision.BFloat16;

    /// <summary>FP8's scale granularity and K smoothing; read only under <see cref="AttentionPrecision.Fp8"/>.</summary>
    public Fp8AttentionSettings Fp8 { get; init; } = Fp8AttentionSettings.Default;

    /// <summary>The selection rule these options describe.</summary>
    public SelectionRule SelectionRule => new(TopP, MinKeyClusterRatio, SelectionPrecision);

    /// <summary>The error-aware routing rule these options describe.</summary>
    public ErrorRoutingRule ErrorRoutingRule => new(ErrorThreshold, MinKeyClusterRatio);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (QueryClusters < 1) throw new ArgumentException($"QueryClusters must be at least 1 (got {QueryClusters}).");
        if (KeyClusters < 1) throw new ArgumentException($"KeyClusters must be at least 1 (got {KeyClusters}).");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"TopP must lie in (0, 1] (got {TopP}).");
        if (!(MinKeyClusterRatio >= 0 && MinKeyClusterRatio <= 1))
            throw new ArgumentException($"MinKeyClusterRatio must lie in [0, 1] (got {MinKeyClusterRatio}).");
        if (TargetDensity is { } target && !(target > 0 && target <= 1))
            throw new ArgumentException($"TargetDensity must lie in (0, 1] (got {target}); leave it unset to select by TopP.");
        if (InitIterations < 1) throw new ArgumentException($"InitIterations must be at least 1 (got {InitIterations}).");
        if (StepIterations < 1) throw new ArgumentException($"StepIterations must be at least 1 (got {StepIterations}).");
        if (Routing == KeyClusterRouting.ErrorAware && Compensation != CompensationMode.PerRow)
            throw new ArgumentException($"Error-aware routing estimates the error per-row centroid compensation leaves; it cannot route for {Compensation} compensation " +
                "(per query cluster, pair it with top-p routing).");
        if (Precision == AttentionPrecision.Fp8 && Compensation != CompensationMode.None)
            throw new ArgumentException($"FP8 attention covers the exactly computed blocks only; {Compensation} compensation (svg2-ear) has no FP8 path. Use bf16 precision with compensation.");
        if (!(CompensationTailMass >= 0 && CompensationTailMass < 1))
            throw new ArgumentException($"CompensationTailMass must lie in [0, 1) (got {CompensationTailMass}); 0 compensates every skipped block per row.");
        if (ProbeKeysPerCluster is < 1) throw new ArgumentException($"ProbeKeysPerCluster must be at least 1 (got {ProbeKeysPerCluster}).");
        if (!(ErrorThreshold >= 0 && double.IsFinite(ErrorThreshold)))
            throw new ArgumentException($"ErrorThreshold must be a finite number of at least 0 (got {ErrorThreshold}).");
    }

    /// <summary>
    /// The cluster counts used for a sequence of <paramref name="tokens"/> clustered tokens, after
    /// validation and, when <see cref="ScaleClusterCounts"/> is set, scaling.
    /// </summary>
    public (int QueryClusters, int KeyClusters) ClusterCountsFor(long tokens)
    {
        Validate();
        if (tokens < 1) throw new ArgumentException($"Cannot cluster a sequence of {tokens} tokens.");
        if (ScaleClusterCounts)
            return (ClusterCountRule.Scale(QueryClusters, tokens, ClusterCountRule.MinTokensPerQueryCluster),
                    ClusterCountRule.Scale(KeyClusters, tokens, ClusterCountRule.MinTokensPerKeyCluster));
        if (QueryClusters > tokens)
            throw new ArgumentException($"QueryClusters ({QueryClusters}) exceeds the number of tokens to cluster ({tokens}).");
        if (KeyClusters > tokens)
            throw new ArgumentException($"KeyClusters ({KeyClusters}) exceeds the number of tokens to cluster ({tokens}).");
        return (QueryClusters, KeyClusters);
    }
}
