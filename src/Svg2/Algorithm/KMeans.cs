using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// Batched Lloyd's k-means under squared Euclidean distance in TorchSharp operations: the portable
/// reference of the clustering stage. Each of the G problems is independent.
/// </summary>
/// <remarks>
/// Dot products use float32 arithmetic on the points' values (as bf16 x bf16 products with float32
/// accumulation do). Centroids are rounded back to the points' dtype after each update, like the
/// reference. Distances are computed in row chunks, so the N x K distance matrix never exists whole.
/// </remarks>
public static class KMeans
{
    /// <summary>
    /// Initial centroids drawn uniformly from the points, with replacement (duplicates possible,
    /// which leaves some clusters empty early on; that is legal).
    /// </summary>
    /// <param name="points">[G, N, D].</param>
    /// <param name="clusters">K.</param>
    /// <param name="seed">Seed of the draw; the indices are drawn on the CPU so every device agrees.</param>
    /// <returns>[G, K, D].</returns>
    public static Tensor RandomInitialCentroids(Tensor points, int clusters, long seed)
    {
        RequireRank(points, 3, nameof(points));
        using var scope = NewDisposeScope();
        long groups = points.shape[0], tokens = points.shape[1], dim = points.shape[2];
        using var generator = new Generator((ulong)seed);
        var indices = randint(0, tokens, [groups, clusters], dtype: ScalarType.Int64, generator: generator).to(points.device);
        return points.gather(1, indices.unsqueeze(-1).expand(groups, clusters, dim)).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Runs <paramref name="iterations"/> assignment and update steps from <paramref name="initialCentroids"/>.
    /// Labels and sizes come from the last assignment, centroids from the last update.
    /// </summary>
    public static KMeansResult Run(Tensor points, Tensor initialCentroids, int iterations)
    {
        RequireRank(points, 3, nameof(points));
        RequireRank(initialCentroids, 3, nameof(initialCentroids));
        if (iterations < 1) throw new ArgumentException($"k-means needs at least 1 iteration (got {iterations}).");
        if (initialCentroids.shape[0] != points.shape[0] || initialCentroids.shape[2] != points.shape[2])
            throw new ArgumentException($"Centroids [{string.Join(", ", initialCentroids.shape)}] do not match points [{string.Join(", ", points.shape)}] in groups or dimension.");
        if (initialCentroids.dtype != points.dtype || !TensorPredicates.SameDevice(initialCentroids, points))
            throw new ArgumentException($"Centroids ({initialCentroids.dtype}, {initialCentroids.device}) must have the points' dtype and device ({points.dtype}, {points.device}).");

        using var scope = NewDisposeScope();
        var points32 = points.to(ScalarType.Float32);
        var centroids = initialCentroids;
        Tensor labels = null!, sizes = null!;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            labels = Assign(points32, centroids.to(ScalarType.Float32));
            (centroids, sizes) = Update(points32, labels, centroids);
        }
        return new KMeansResult(labels, centroids, sizes).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The nearest centroid of every point, ties to the lowest id; a NaN distance wins (the first NaN, as
    /// torch.argmin returns it), which the CUDA kernels reproduce.
    /// argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 - 2 x.c_k): |x|^2 is the same for every k.
    /// </summary>
    /// <param name="points32">[G, N, D] float32.</param>
    /// <param name="centroids32">[G, K, D] float32.</param>
    /// <returns>[G, N] int64.</returns>
    public static Tensor Assign(Tensor points32, Tensor centroids32)
    {
        using var scope = NewDisposeScope();
        long groups = points32.shape[0], tokens = points32.shape[1], clusters = centroids32.shape[1];
        var centroidNorms = centroids32.square().sum(-1).unsqueeze(1);
        var centroidsT = centroids32.transpose(1, 2);
        long rows = ChunkBudget.Rows(groups * clusters, tokens);
        var labels = empty([groups, tokens], ScalarType.Int64, points32.device);
        for (long start = 0; start < tokens; start += rows)
        {
            using var inner = NewDisposeScope();
            long length = Math.Min(rows, tokens - start);
            var chunk = points32.narrow(1, start, length);
            var distances = chunk.bmm(centroidsT).mul_(-2).add_(centroidNorms);
            labels.narrow(1, start, length).copy_(distances.argmin(-1));
        }
        return labels.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// New centroids as member means; an empty cluster keeps its previous centroid.
    /// </summary>
    /// <param name="points32">[G, N, D] float32.</param>
    /// <param name="labels">[G, N] int64.</param>
    /// <param name="previous">[G, K, D] previous centroids; the result has its dtype.</param>
    /// <returns>The new centroids and the member counts [G, K] int64.</returns>
    public static (Tensor Centroids, Tensor Sizes) Update(Tensor points32, Tensor labels, Tensor previous)
    {
        using var scope = NewDisposeScope();
        var (sums, sizes) = ClusterMeans.SegmentSums(points32, labels, previous.shape[1]);
        var means = ClusterMeans.Means((sums, sizes));
        var centroids = where(sizes.unsqueeze(-1) > 0, means, previous.to(ScalarType.Float32)).to(previous.dtype);
        return (centroids.MoveToOuterDisposeScope(), sizes.MoveToOuterDisposeScope());
    }

    internal static void RequireRank(Tensor tensor, int rank, string name)
    {
        if (tensor.dim() != rank)
            throw new ArgumentException($"{name} must have {rank} dimensions [G, N, D]; got [{string.Join(", ", tensor.shape)}].");
    }
}
