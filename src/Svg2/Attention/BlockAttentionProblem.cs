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
/// <param name="RowCompensated">[G, QC, KC] bool: the blocks compensated with one key per row (<see cref="CentroidCompensation.RowBlocks"/>), or null.</param>
/// <param name="ClusterCompensated">[G, QC, KC] bool: the blocks compensated per query cluster (<see cref="CentroidCompensation.ClusterBlocks"/>), or null.</param>
internal sealed record BlockAttentionProblem(Tensor Queries, Tensor Keys, Tensor Values, ClusterLayout QueryLayout, ClusterLayout KeyLayout,
    Tensor BlockMask, double Scale, CentroidCompensation? Compensation, Tensor? RowCompensated = null, Tensor? ClusterCompensated = null);
