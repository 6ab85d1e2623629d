using Svg2.Evaluation.Methods;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// The spatial-temporal neighbours of a token on a <see cref="TokenGrid"/>: the tokens at most
/// <paramref name="FrameRadius"/> frames and at most <paramref name="SpatialRadius"/> rows and columns away
/// (a box, the token itself included).
/// </summary>
/// <param name="FrameRadius">Largest |Δt|.</param>
/// <param name="SpatialRadius">Largest |Δh| and largest |Δw|.</param>
public readonly record struct GridNeighbourhood(int FrameRadius, int SpatialRadius)
{
    /// <summary>Whether each key is a neighbour of each query: [R, N] bool.</summary>
    /// <param name="queryPositions">[R, 3] (t, h, w) of the queries, from <see cref="TokenGrid.Coordinates"/>.</param>
    /// <param name="keyPositions">[N, 3] (t, h, w) of the keys.</param>
    public Tensor Contains(Tensor queryPositions, Tensor keyPositions)
    {
        if (FrameRadius < 0 || SpatialRadius < 0)
            throw new ArgumentException($"Neighbourhood radii must not be negative (got {FrameRadius} frames, {SpatialRadius} tokens).");
        using var scope = NewDisposeScope();
        var gap = (queryPositions.unsqueeze(1) - keyPositions.unsqueeze(0)).abs();
        var radius = tensor(new long[] { FrameRadius, SpatialRadius, SpatialRadius }, device: gap.device);
        return (gap <= radius).all(-1).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"|Δt| ≤ {FrameRadius}, |Δh|, |Δw| ≤ {SpatialRadius}";
}
