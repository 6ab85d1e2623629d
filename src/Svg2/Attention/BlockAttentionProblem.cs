using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// One call of <see cref="VariableBlockAttention"/> in the permuted layout, as both of its strategies read it.
/// </summary>
/// <param name="Queries">[G, Nq, D] float32, permuted.</param>
/// <param name="Keys">[G, Nk, D] float32, permuted.</param>
/// <param name="Values">[G, Nk, Dv] float32, permuted.</param>
/// <param name="QueryLayout">Clusters of the query rows.</param>
/// <param name="KeyLayout">Clusters of the key rows.</param>
/// <param name="BlockMask">[G, QC, KC] bool: the blocks computed exactly.</param>
/// <param name="Scale">Softmax scale.</param>
/// <param name="Compensation">Centroid compensation of blocks not computed exactly, or null.</param>
internal sealed record BlockAttentionProblem(Tensor Queries, Tensor Keys, Tensor Values, ClusterLayout QueryLayout, ClusterLayout KeyLayout,
    Tensor BlockMask, double Scale, CentroidCompensation? Compensation);
