using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// The per-layer state of SVG2: the query and key centroids of the layer's most recent call, from
/// which the next call's k-means warm-starts. Reset it at the start of every video.
/// </summary>
public sealed class Svg2LayerState : IDisposable
{
    Tensor? queryCentroids;
    Tensor? keyCentroids;

    /// <summary>Cached query centroids [G, QC, D], or null before the first call.</summary>
    public Tensor? QueryCentroids => queryCentroids;

    /// <summary>Cached key centroids [G, KC, D], or null before the first call.</summary>
    public Tensor? KeyCentroids => keyCentroids;

    /// <summary>Calls that updated this state since the last reset.</summary>
    public int Calls { get; private set; }

    /// <summary>
    /// The top-p the layer's first sparse call chose to reach <see cref="Configuration.Svg2Options.TargetDensity"/>,
    /// reused by later calls until a check finds its density drifted (<see cref="Svg2Attention.BudgetDriftTolerance"/>);
    /// null before that call, without a target, and after <see cref="Reset"/>.
    /// </summary>
    public double? ChosenTopP { get; internal set; }

    /// <summary>
    /// The error-routing threshold λ the layer's first sparse call chose to reach the target density under
    /// error-aware routing, reused by later calls until a check finds its density drifted; null before that call, without
    /// a target, and after <see cref="Reset"/>.
    /// </summary>
    public double? ChosenErrorThreshold { get; internal set; }

    /// <summary>The mean density the layer's last budget search reached (null before it): later calls are checked against it.</summary>
    public double? SearchedDensity { get; internal set; }

    /// <summary>Sparse calls that kept the chosen budget since its last search.</summary>
    public int CallsSinceSearch { get; internal set; }

    /// <summary>Forgets the centroids; the next call starts k-means from random centroids.</summary>
    public void Reset()
    {
        queryCentroids?.Dispose();
        keyCentroids?.Dispose();
        queryCentroids = keyCentroids = null;
        ChosenTopP = null;
        ChosenErrorThreshold = null;
        SearchedDensity = null;
        CallsSinceSearch = 0;
        Calls = 0;
    }

    /// <summary>
    /// An independent copy of this state (centroids cloned, chosen budgets and call count kept): runs that
    /// must start from the same cache, such as two methods compared on one clustering, each take a copy.
    /// </summary>
    public Svg2LayerState Copy()
    {
        var copy = new Svg2LayerState { ChosenTopP = ChosenTopP, ChosenErrorThreshold = ChosenErrorThreshold, SearchedDensity = SearchedDensity,
            CallsSinceSearch = CallsSinceSearch };
        if (queryCentroids is not null && keyCentroids is not null)
        {
            copy.Adopt(queryCentroids.detach().clone(), keyCentroids.detach().clone());
            copy.Calls = Calls;
        }
        return copy;
    }

    /// <summary>
    /// The cached centroids to warm-start a problem of as many groups as
    /// <paramref name="clusters"/> clusters like <paramref name="points"/>, or null when there is no
    /// compatible cache (first call, other cluster count, dimension, dtype or device). A cache made
    /// for one batch element serves every element of a larger batch.
    /// </summary>
    internal static Tensor? WarmStart(Tensor? cached, Tensor points, int clusters)
    {
        if (cached is null) return null;
        long groups = points.shape[0];
        if (cached.shape[1] != clusters || cached.shape[2] != points.shape[2] || cached.dtype != points.dtype
            || !Algorithm.TensorPredicates.SameDevice(cached, points) || groups % cached.shape[0] != 0)
            return null;
        return cached.shape[0] == groups ? cached : cached.repeat(groups / cached.shape[0], 1, 1);
    }

    internal Tensor? QueryWarmStart(Tensor points, int clusters) => WarmStart(queryCentroids, points, clusters);

    internal Tensor? KeyWarmStart(Tensor points, int clusters) => WarmStart(keyCentroids, points, clusters);

    /// <summary>Overwrites the cache with copies of the centroids of the latest call.</summary>
    internal void Store(Tensor newQueryCentroids, Tensor newKeyCentroids) =>
        Adopt(newQueryCentroids.detach().clone(), newKeyCentroids.detach().clone());

    /// <summary>
    /// Overwrites the cache with the centroids of the latest call, taking ownership of the tensors
    /// (they leave their dispose scope): for centroids the caller made for this purpose, so no copy.
    /// </summary>
    internal void Adopt(Tensor q, Tensor k)
    {
        q.DetachFromDisposeScope();
        k.DetachFromDisposeScope();
        queryCentroids?.Dispose();
        keyCentroids?.Dispose();
        queryCentroids = q;
        keyCentroids = k;
        Calls++;
    }

    /// <inheritdoc/>
    public void Dispose() => Reset();
}
