using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// How much of the attention's work is query rows past a cluster's end, as a fraction of the rows x keys the
/// clusters hold (each row weighted by the keys its cluster selected).
/// </summary>
/// <param name="Tiles">Every cluster's rows rounded up to whole tiles of the Hopper kernel (<see cref="TileRows"/>).</param>
/// <param name="Halves">Rounded up to 64-row halves, one consumer warpgroup's rows (<see cref="HalfRows"/>).</param>
/// <param name="SharedHalves">
/// Halves with two clusters' last halves sharing one where <see cref="TailPairing"/> pairs them, as the Hopper plan's pair
/// tiles do.
/// </param>
public sealed record QueryTilePadding(double Tiles, double Halves, double SharedHalves)
{
    /// <summary>Rows of a Hopper attention tile.</summary>
    public const int TileRows = SparseAttentionTraits.HopperTileRows;

    /// <summary>Rows of one consumer warpgroup's half of a tile.</summary>
    public const int HalfRows = HopperTraits.WarpgroupRows;

    /// <summary>
    /// The padding of a selection: <paramref name="rows"/> [G, QC] cluster sizes, <paramref name="keys"/> [G, QC]
    /// selected keys, <paramref name="blockMask"/> [G, QC, KC] the selected blocks, <paramref name="keySizes"/> [G, KC]
    /// key cluster sizes.
    /// </summary>
    public static QueryTilePadding Of(Tensor rows, Tensor keys, Tensor blockMask, Tensor keySizes)
    {
        using var scope = NewDisposeScope();
        var weightedRows = rows.to(ScalarType.Float64);
        var weightedKeys = keys.to(ScalarType.Float64);
        double useful = (weightedRows * weightedKeys).sum().item<double>();
        double Padded(int tileRows) => ((weightedRows / tileRows).ceil() * tileRows * weightedKeys).sum().item<double>() / useful - 1;
        double shared = TailPairing.PairedWork(rows, keys, blockMask, keySizes, HalfRows) / useful - 1;
        return new(Padded(TileRows), Padded(HalfRows), shared);
    }
}
