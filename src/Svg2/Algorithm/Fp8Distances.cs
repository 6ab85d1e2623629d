using Svg2.Attention.Fp8;
using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// The k-means assignment with its distance products in FP8 E4M3, as the Hopper kernel computes them
/// (<see cref="Configuration.KMeansPrecision.Fp8"/>), in TorchSharp operations: the reference the kernel is checked against.
/// </summary>
/// <remarks>
/// The nearest centroid maximises x.c - |c|^2 / 2, and moving points and centroids by the same vector m changes no
/// distance. Both sides are therefore centred on m (the starting centroids' mean, computed once per call) so that
/// FP8 spends its 3 mantissa bits on the spread of the rows, not on an offset they share. Then
/// x - m is quantised with one absmax scale per row and c - m with one per tile of <see cref="CentroidTileRows"/>
/// centroids (<see cref="Fp8Quantizer"/>), the products are taken in float32 and rescaled, and the bias
/// -|c - m|^2 / 2 comes from the unrounded centroids. Ties and NaN follow <see cref="KMeans.Assign"/>: a NaN in a
/// row or tile makes its scale, and so every score it touches, NaN, and the first NaN distance wins.
/// </remarks>
public static class Fp8Distances
{
    /// <summary>Centroids that share one FP8 scale: a tile of the Hopper kernel's centroid image.</summary>
    public const int CentroidTileRows = 128;

    /// <summary>
    /// The centre of a call's FP8 distances: the mean of the starting centroids per group, [G, D] float32, with any
    /// non-finite element replaced by 0 (a NaN centroid must not turn every distance into NaN).
    /// </summary>
    /// <param name="centroids">[G, K, D].</param>
    public static Tensor Centre(Tensor centroids)
    {
        using var scope = NewDisposeScope();
        return centroids.to(ScalarType.Float32).mean([1]).nan_to_num(0, 0, 0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>The nearest centroid of every point under FP8 distance products (see the remarks).</summary>
    /// <param name="points32">[G, N, D] float32.</param>
    /// <param name="centroids32">[G, K, D] float32.</param>
    /// <param name="centre">[G, D] float32 (<see cref="Centre"/>).</param>
    /// <returns>[G, N] int64.</returns>
    public static Tensor Assign(Tensor points32, Tensor centroids32, Tensor centre)
    {
        using var centroids = new QuantisedCentroids(points32, centroids32, centre);
        // The largest score is the nearest centroid; NaN ranks first, as a NaN distance does in torch.argmin, and ties
        // with +infinity go to the lower column, as in the kernel.
        return KMeans.NearestInChunks(points32, centroids32.shape[1],
            chunk => centroids.Scores(chunk).nan_to_num_(double.PositiveInfinity, double.PositiveInfinity, double.NegativeInfinity).neg_());
    }

    /// <summary>
    /// Every score x.c - |c|^2 / 2 that <see cref="Assign"/> ranks, [G, N, K] float32 (the nearest centroid has the
    /// largest): for checks on small inputs; <see cref="Assign"/> never holds them all.
    /// </summary>
    public static Tensor Scores(Tensor points32, Tensor centroids32, Tensor centre)
    {
        using var centroids = new QuantisedCentroids(points32, centroids32, centre);
        return centroids.Scores(points32);
    }

    /// <summary>The centroid side of the products, quantised once per assignment.</summary>
    sealed class QuantisedCentroids : IDisposable
    {
        readonly Tensor _shift, _rowsT, _scales, _bias;

        public QuantisedCentroids(Tensor points32, Tensor centroids32, Tensor centre)
        {
            if (centre.dim() != 2 || centre.shape[0] != points32.shape[0] || centre.shape[1] != points32.shape[2])
                throw new ArgumentException($"The centre must be [G, D] = [{points32.shape[0]}, {points32.shape[2]}]; got [{string.Join(", ", centre.shape)}].", nameof(centre));
            using var scope = NewDisposeScope();
            var shift = centre.unsqueeze(1);
            var centroids = centroids32 - shift;
            using var quantised = Fp8Quantizer.RowTiles(centroids, CentroidTileRows);
            // Held past this scope, disposed with this object.
            _shift = shift.DetachFromDisposeScope();
            _rowsT = quantised.DecodedValues().transpose(1, 2).DetachFromDisposeScope();
            _scales = quantised.Scales.transpose(1, 2).DetachFromDisposeScope();
            _bias = centroids.square().sum(-1).mul(-0.5).unsqueeze(1).DetachFromDisposeScope();
        }

        public Tensor Scores(Tensor points32)
        {
            using var scope = NewDisposeScope();
            using var quantised = Fp8Quantizer.RowTiles(points32 - _shift, 1);
            // Products of e4m3 values are exact in float32; their sums over D round as the kernel's float32 accumulators do, up to order.
            return quantised.DecodedValues().bmm(_rowsT).mul_(quantised.Scales).mul_(_scales).add_(_bias).MoveToOuterDisposeScope();
        }

        public void Dispose()
        {
            foreach (var tensor in new[] { _shift, _rowsT, _scales, _bias }) tensor.Dispose();
        }
    }
}
