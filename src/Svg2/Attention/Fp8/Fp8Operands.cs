using static TorchSharp.torch;

namespace Svg2.Attention.Fp8;

/// <summary>
/// Q, K and V of one FP8 attention call, quantised in the row order the attention reads them, with their
/// values decoded to float32 once (the CPU has no FP8 matrix product).
/// </summary>
internal sealed class Fp8Operands : IDisposable
{
    readonly Fp8Quantized queries, keys, values;
    readonly Tensor queryValues, keyValues, valueValues;
    readonly Tensor? keyBias;

    Fp8Operands(Fp8Quantized queries, Fp8Quantized keys, Fp8Quantized values, Tensor? keyBias)
    {
        (this.queries, this.keys, this.values, this.keyBias) = (queries, keys, values, keyBias);
        (queryValues, keyValues, valueValues) = (queries.DecodedValues(), keys.DecodedValues(), values.DecodedValues());
    }

    /// <summary>
    /// Quantises [G, N, D] q, k (both smoothed already, if at all) and v under <paramref name="granularity"/>;
    /// <paramref name="keyBias"/> ([G, Nk] float32, Q smoothing's q̄ · k in k's row order) is kept for the logits.
    /// </summary>
    public static Fp8Operands Quantize(Tensor q, Tensor k, Tensor v, Fp8ScaleGranularity granularity, Tensor? keyBias = null)
    {
        long QueryRowsPerScale(long rows) => granularity switch
        {
            Fp8ScaleGranularity.PerHead => rows,
            Fp8ScaleGranularity.PerTile => Fp8Tiles.QueryTileRows,
            Fp8ScaleGranularity.PerToken or Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "Unknown FP8 scale granularity."),
        };
        long KeyRowsPerScale(long rows) => granularity switch
        {
            Fp8ScaleGranularity.PerHead or Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys => rows,
            Fp8ScaleGranularity.PerTile => Fp8Tiles.KeyTileRows,
            Fp8ScaleGranularity.PerToken => 1,
            _ => throw new ArgumentOutOfRangeException(nameof(granularity), granularity, "Unknown FP8 scale granularity."),
        };
        return new Fp8Operands(
            Fp8Quantizer.RowTiles(q, QueryRowsPerScale(q.shape[1])),
            Fp8Quantizer.RowTiles(k, KeyRowsPerScale(k.shape[1])),
            Fp8Quantizer.Channels(v),
            keyBias?.to(ScalarType.Float32));
    }

    /// <summary>
    /// Rows [rowStart, rowStart + rowCount) of group <paramref name="group"/> over the key rows
    /// <paramref name="keyIndex"/> (in that order; every key when null): [rows, Dv] before V's scales.
    /// </summary>
    public Tensor Attend(int group, long rowStart, long rowCount, Tensor? keyIndex, double scale)
    {
        using var scope = NewDisposeScope();
        Tensor Keys(Tensor t) => keyIndex is null ? t[group] : t[group].index_select(0, keyIndex);
        return Fp8RowAttention.Attend(queryValues[group].narrow(0, rowStart, rowCount), queries.Scales[group].narrow(0, rowStart, rowCount),
            Keys(keyValues), Keys(keys.Scales), Keys(valueValues), keyBias is null ? null : Keys(keyBias), scale).MoveToOuterDisposeScope();
    }

    /// <summary>[G, N, Dv] attention before V's scales, times them.</summary>
    public Tensor ScaleValues(Tensor output) => output * values.Scales;

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var tensor in new[] { queryValues, keyValues, valueValues }) tensor.Dispose();
        keyBias?.Dispose();
        queries.Dispose();
        keys.Dispose();
        values.Dispose();
    }
}
