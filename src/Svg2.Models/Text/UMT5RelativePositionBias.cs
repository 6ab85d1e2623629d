using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>
/// T5's bidirectional relative-position bias: every (query, key) offset falls into one of a few buckets
/// (exact for small offsets, logarithmic up to the maximum distance, separately for keys before and after
/// the query), and each bucket has a learned bias per head (checkpoint key "embedding.weight",
/// [buckets, heads]).
/// </summary>
public sealed class UMT5RelativePositionBias : nn.Module
{
    readonly int _buckets;
    readonly int _maxDistance;

    internal UMT5Weight Embedding { get; }

    /// <summary>Creates the bias table, uninitialised.</summary>
    public UMT5RelativePositionBias(int buckets, int heads, int maxDistance, Device? device, ScalarType dtype) : base(nameof(UMT5RelativePositionBias))
    {
        _buckets = buckets;
        _maxDistance = maxDistance;
        Embedding = new UMT5Weight(buckets, heads, device, dtype);
        register_module("embedding", Embedding);
    }

    /// <summary>The bias [1, heads, queries, keys] in the table's dtype.</summary>
    public Tensor Forward(long queries, long keys)
    {
        using var scope = NewDisposeScope();
        var device = Embedding.Weight.device;
        var offsets = arange(keys, dtype: ScalarType.Int64, device: device).unsqueeze(0) - arange(queries, dtype: ScalarType.Int64, device: device).unsqueeze(1);
        var bias = Embedding.Lookup(Buckets(offsets, _buckets, _maxDistance));
        return bias.permute(2, 0, 1).unsqueeze(0).contiguous().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The bucket of each offset (key position minus query position), int64 like <paramref name="offsets"/>.
    /// Computed with the reference's float32 operations on the offsets' device, so that offsets on a
    /// bucket boundary land where the reference puts them.
    /// </summary>
    public static Tensor Buckets(Tensor offsets, int buckets, int maxDistance)
    {
        using var scope = NewDisposeScope();
        int half = buckets / 2;
        int exact = half / 2;
        // Scalars held for the whole call: an implicit temporary can be finalised while the native operation still reads it.
        using Scalar halfScalar = half.ToScalar(), exactScalar = exact.ToScalar(), logRange = Math.Log((double)maxDistance / exact).ToScalar(),
            logBuckets = (half - exact).ToScalar(), lastBucket = (half - 1).ToScalar();
        var after = offsets.gt(0).to(ScalarType.Int64) * halfScalar;
        var distance = offsets.abs();
        // log(0) is -inf for the exact distances; torch.where below discards those lanes.
        var logarithmic = (distance.to(ScalarType.Float32) / exactScalar).log() / logRange * logBuckets;
        var large = logarithmic.to(ScalarType.Int64) + exactScalar;
        large = minimum(large, full_like(large, lastBucket));
        return (after + where(distance.lt(exactScalar), distance, large)).MoveToOuterDisposeScope();
    }
}
