using Svg2.Configuration;
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
    /// <remarks>
    /// A problem whose update leaves every centroid bit-identical has reached Lloyd's fixed point: its next
    /// assignment reads the same centroids, so every later step repeats this one exactly. Such a problem
    /// leaves the batch and the remaining steps run on the others, which gives bit for bit what all
    /// <paramref name="iterations"/> steps give (a cold start on the small footage model's attention settles in
    /// 7 to 24 of its 50 steps). The check reads one count per step back to the host.
    /// </remarks>
    /// <param name="points">[G, N, D].</param>
    /// <param name="initialCentroids">[G, K, D], the points' dtype and device.</param>
    /// <param name="iterations">At least 1.</param>
    /// <param name="precision">The distance products' numerics; under <see cref="KMeansPrecision.Fp8"/> every
    /// assignment is <see cref="Fp8Distances.Assign"/>, centred on the starting centroids' mean.</param>
    public static KMeansResult Run(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision = KMeansPrecision.Input)
    {
        RequireRank(points, 3, nameof(points));
        RequireRank(initialCentroids, 3, nameof(initialCentroids));
        if (iterations < 1) throw new ArgumentException($"k-means needs at least 1 iteration (got {iterations}).");
        if (initialCentroids.shape[0] != points.shape[0] || initialCentroids.shape[2] != points.shape[2])
            throw new ArgumentException($"Centroids [{string.Join(", ", initialCentroids.shape)}] do not match points [{string.Join(", ", points.shape)}] in groups or dimension.");
        if (initialCentroids.dtype != points.dtype || !TensorPredicates.SameDevice(initialCentroids, points))
            throw new ArgumentException($"Centroids ({initialCentroids.dtype}, {initialCentroids.device}) must have the points' dtype and device ({points.dtype}, {points.device}).");

        using var scope = NewDisposeScope();
        long groups = points.shape[0];
        var points32 = points.to(ScalarType.Float32);
        var centroids = initialCentroids.clone();
        var labels = empty([groups, points.shape[1]], ScalarType.Int64, points.device);
        var sizes = empty([groups, initialCentroids.shape[1]], ScalarType.Int64, points.device);
        // The problems still moving: all of them (null, no copies) until the first one settles.
        Tensor? active = null;
        var centre = precision == KMeansPrecision.Fp8 ? Fp8Distances.Centre(initialCentroids) : null;
        for (int iteration = 0; iteration < iterations; iteration++)
        {
            using var step = NewDisposeScope();
            var (stepPoints, previous) = active is null ? (points32, centroids) : (points32.index_select(0, active), centroids.index_select(0, active));
            var stepLabels = centre is null
                ? Assign(stepPoints, previous.to(ScalarType.Float32))
                : Fp8Distances.Assign(stepPoints, previous.to(ScalarType.Float32), active is null ? centre : centre.index_select(0, active));
            var (stepCentroids, stepSizes) = Update(stepPoints, stepLabels, previous);
            var moving = stepCentroids.ne(previous).flatten(1).any(1);
            if (active is null)
            {
                labels.copy_(stepLabels);
                sizes.copy_(stepSizes);
                centroids.copy_(stepCentroids);
            }
            else
            {
                labels.index_copy_(0, active, stepLabels);
                sizes.index_copy_(0, active, stepSizes);
                centroids.index_copy_(0, active, stepCentroids);
            }
            long stillMoving = moving.sum().item<long>();
            if (stillMoving == 0) break;
            if (stillMoving < moving.shape[0])
                active = (active ?? arange(groups, ScalarType.Int64, points.device)).masked_select(moving).MoveToOuterDisposeScope();
        }
        return new KMeansResult(labels, centroids, sizes).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The nearest centroid of every point, ties to the lowest id; a NaN distance wins (the first NaN, as
    /// torch.argmin returns it), which the CUDA kernels reproduce.
    /// argmin_k |x - c_k|^2 = argmin_k (|c_k|^2 - 2 x.c_k): |x|^2 is the same for every k.
    /// </summary>
    /// <remarks>
    /// Rows go in chunks: on the CPU small ones (<see cref="CpuChunkElements"/> distances), so the products,
    /// the scaling and the argmin stay in cache, which makes the step several times faster than one product
    /// of all rows; elsewhere as large as <see cref="ChunkBudget"/> allows. A point's distances do not depend
    /// on the chunk it falls in.
    /// </remarks>
    /// <param name="points32">[G, N, D] float32.</param>
    /// <param name="centroids32">[G, K, D] float32.</param>
    /// <returns>[G, N] int64.</returns>
    public static Tensor Assign(Tensor points32, Tensor centroids32)
    {
        using var scope = NewDisposeScope();
        var centroidNorms = centroids32.square().sum(-1).unsqueeze(1);
        var centroidsT = centroids32.transpose(1, 2);
        return NearestInChunks(points32, centroids32.shape[1], chunk => chunk.bmm(centroidsT).mul_(-2).add_(centroidNorms)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The index of the smallest of <paramref name="distancesOf"/>(rows) for every point (the first minimum, the first
    /// NaN, as argmin), computed over row chunks of <see cref="ChunkRows"/> so that no [G, N, K] tensor exists whole.
    /// </summary>
    /// <param name="points32">[G, N, D] float32.</param>
    /// <param name="clusters">K.</param>
    /// <param name="distancesOf">[G, n, K] distance-like values of a [G, n, D] chunk of rows.</param>
    /// <returns>[G, N] int64.</returns>
    internal static Tensor NearestInChunks(Tensor points32, long clusters, Func<Tensor, Tensor> distancesOf)
    {
        using var scope = NewDisposeScope();
        long groups = points32.shape[0], tokens = points32.shape[1];
        long rows = ChunkRows(points32, clusters);
        var labels = empty([groups, tokens], ScalarType.Int64, points32.device);
        for (long start = 0; start < tokens; start += rows)
        {
            using var inner = NewDisposeScope();
            long length = Math.Min(rows, tokens - start);
            var distances = distancesOf(points32.narrow(1, start, length));
            // min over the dimension picks the index argmin picks (first minimum, first NaN) at half its cost on the CPU.
            labels.narrow(1, start, length).copy_(distances.min(-1).indexes);
        }
        return labels.MoveToOuterDisposeScope();
    }

    /// <summary>Rows of <paramref name="points32"/> ([G, N, D]) whose distances to <paramref name="clusters"/> centroids form one chunk.</summary>
    internal static long ChunkRows(Tensor points32, long clusters)
    {
        long groups = points32.shape[0], tokens = points32.shape[1];
        return points32.device_type == DeviceType.CPU
            ? Math.Clamp(CpuChunkElements / Math.Max(1, groups * clusters), 1, Math.Max(1, tokens))
            : ChunkBudget.Rows(groups * clusters, tokens);
    }

    /// <summary>Distances per chunk of <see cref="Assign"/> on the CPU (float32 elements, 6 MiB): about a core's share of a large L3 cache.</summary>
    internal const long CpuChunkElements = 3L << 19;

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
