using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// How often the fixed minimum of a selection rule, not its budget, decided how many key clusters a
/// query cluster kept: a query cluster is at the floor when it keeps no more than max(1, minimum)
/// key clusters. When most query clusters are at the floor, the density is the floor's, whatever
/// top-p (or threshold) was asked for.
/// </summary>
public static class SelectionFloor
{
    /// <summary>The share of query clusters at the floor, per group: [G] float64.</summary>
    /// <param name="mask">[G, QC, KC] bool selection among video clusters (text blocks excluded).</param>
    /// <param name="minimumKept">The rule's minimum, floor(ratio x KC).</param>
    public static Tensor Share(Tensor mask, int minimumKept)
    {
        if (mask.dim() != 3 || mask.dtype != ScalarType.Bool)
            throw new ArgumentException($"The selection must be bool [G, QC, KC]; got {mask.dtype} [{string.Join(", ", mask.shape)}].", nameof(mask));
        using var scope = NewDisposeScope();
        var atFloor = mask.sum(-1) <= Math.Max(1, minimumKept);
        return atFloor.to(ScalarType.Float64).mean([1]).MoveToOuterDisposeScope();
    }
}
