using Svg2.Positional;

namespace Svg2.Evaluation.Workloads;

/// <summary>
/// How one generated head mixes position and content. Attention logits are
/// PositionLogit * (position kernel in [-1, 1], 1 at zero offset) + ContentLogit * (cosine similarity
/// of the projected token features), plus small cross terms.
/// </summary>
/// <param name="Kind">The head's character.</param>
/// <param name="PositionLogit">Logit gain of the position kernel.</param>
/// <param name="ContentLogit">Logit gain of the content similarity.</param>
internal readonly record struct HeadRecipe(HeadKind Kind, double PositionLogit, double ContentLogit)
{
    // The mix of a model's heads: mostly local and semantic, some temporal, a few mixed.
    private static readonly HeadKind[] Pattern =
    [
        HeadKind.LocalSpatial, HeadKind.Semantic, HeadKind.Temporal, HeadKind.Mixed,
        HeadKind.LocalSpatial, HeadKind.Semantic, HeadKind.Temporal, HeadKind.Semantic,
    ];

    /// <summary>The recipe of head <paramref name="head"/>; the gains vary per head (log-normal, from
    /// <paramref name="random"/>) so some heads are broader than others.</summary>
    public static HeadRecipe For(int head, Random random)
    {
        var kind = Pattern[head % Pattern.Length];
        double jitter = Math.Exp(0.3 * Gaussian(random));
        return kind switch
        {
            HeadKind.LocalSpatial => new(kind, 24.0 * jitter, 3.0),
            HeadKind.Temporal => new(kind, 22.0 * jitter, 3.0),
            HeadKind.Semantic => new(kind, 2.0, 20.0 * jitter),
            _ => new(kind, 14.0 * jitter, 14.0 * jitter),
        };
    }

    /// <summary>
    /// Whether pair <paramref name="pair"/> carries the position term. Position lives on the faster
    /// half of each axis's pairs (they resolve neighbours); temporal heads leave the time axis out so
    /// every frame looks alike to them.
    /// </summary>
    public bool IsPositionPair(Rope3D rope, int pair) =>
        IsFastPair(rope, pair) && !(Kind == HeadKind.Temporal && rope.AxisOf(pair) == Rope3D.Axis.Time);

    /// <summary>Whether pair <paramref name="pair"/> carries the content term: the slow half of each
    /// axis, which barely rotates over the grid, so similarity survives any distance.</summary>
    public static bool IsContentPair(Rope3D rope, int pair) => !IsFastPair(rope, pair);

    private static bool IsFastPair(Rope3D rope, int pair)
    {
        var (index, count) = rope.AxisOf(pair) switch
        {
            Rope3D.Axis.Time => (pair, rope.TemporalPairs),
            Rope3D.Axis.Height => (pair - rope.TemporalPairs, rope.HeightPairs),
            _ => (pair - rope.TemporalPairs - rope.HeightPairs, rope.WidthPairs),
        };
        return index < (count + 1) / 2;
    }

    private static double Gaussian(Random random) =>
        Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble())) * Math.Cos(2.0 * Math.PI * random.NextDouble());
}
