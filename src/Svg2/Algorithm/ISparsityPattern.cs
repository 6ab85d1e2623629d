using static TorchSharp.torch;

namespace Svg2.Algorithm;

/// <summary>
/// Which keys each query row of a sparse attention call may attend, asked a chunk of rows at a time
/// so quality statistics never hold an N x N mask.
/// </summary>
public interface ISparsityPattern
{
    /// <summary>
    /// The allowed keys of the given query rows.
    /// </summary>
    /// <param name="rows">[R] int64 query row indices, in original token order.</param>
    /// <param name="probabilities">[G, R, Nk] float32 exact attention probabilities of those rows
    /// (patterns that depend on them, like the token-level oracle, use them; others ignore them).</param>
    /// <returns>[G, R, Nk] bool.</returns>
    Tensor Allowed(Tensor rows, Tensor probabilities);

    /// <summary>The fraction of the score matrix computed, per group: [G] float64.</summary>
    Tensor Density();
}
