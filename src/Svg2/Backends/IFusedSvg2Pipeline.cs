using Svg2.Configuration;
using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Backends;

/// <summary>
/// The stages of SVG2 calls of one <see cref="FusedShape"/> fused by a backend: buffers (labels,
/// layouts, block mask, attention plan) are allocated once and overwritten by every call, and the
/// permutation of the last k-means iteration is the layout the attention uses. Methods only enqueue
/// device work; none reads values back to the host.
/// </summary>
/// <remarks>
/// One pipeline is shared by all layers of a model, so it holds the state of the latest call only:
/// copy out (<see cref="CopySelection"/>, <see cref="Density"/>) what must outlive the call. Calls
/// must not interleave across threads.
/// </remarks>
public interface IFusedSvg2Pipeline
{
    /// <summary>The shape the pipeline was sized for.</summary>
    FusedShape Shape { get; }

    /// <summary>
    /// Runs k-means iterations on the video rows of q and of k (a backend may run the two side by side) from
    /// <paramref name="queryStart"/> and <paramref name="keyStart"/>, which are only read, into <paramref name="queryCentroids"/>
    /// [G, QC, D] and <paramref name="keyCentroids"/> [G, KC, D] (contiguous; every row is written): the caller keeps its start
    /// and gets new centroids without copying one into the other. A start may also be its output (an update in place).
    /// </summary>
    /// <param name="q">[G, S, D].</param>
    /// <param name="k">[G, S, D].</param>
    /// <param name="queryStart">[G, QC, D] where q's iterations start, read only.</param>
    /// <param name="keyStart">[G, KC, D] where k's iterations start, read only.</param>
    /// <param name="queryCentroids">[G, QC, D] output.</param>
    /// <param name="keyCentroids">[G, KC, D] output.</param>
    /// <param name="iterations">Lloyd iterations of each, at least 1.</param>
    /// <param name="precision">The distance products' numerics (see <see cref="ISvg2Backend.KMeans"/>).</param>
    void Cluster(Tensor q, Tensor k, Tensor queryStart, Tensor keyStart, Tensor queryCentroids, Tensor keyCentroids, int iterations,
        KMeansPrecision precision = KMeansPrecision.Input);

    /// <summary>Selects the key clusters of every query cluster from the current centroids and key sizes under <paramref name="rule"/>, and plans the attention.</summary>
    void Select(Tensor queryCentroids, Tensor keyCentroids, SelectionRule rule);

    /// <summary>Whether <see cref="EstimateCompensationError"/> runs on this pipeline (error-aware routing can fuse).</summary>
    bool EstimatesCompensationError { get; }

    /// <summary>
    /// The routing probe of error-aware routing over the current layouts (see
    /// <see cref="CompensationErrorProbe.Estimate"/>): a new [G, QC, KC] float64 tensor of scores, on the
    /// device. The centroids, as the last k-means iterations left them, are the member means of the
    /// layouts; the mean values of the key clusters it computes are reused by the
    /// <see cref="AttendCompensated"/> that follows with the same v.
    /// </summary>
    /// <param name="k">[G, S, D].</param>
    /// <param name="v">[G, S, D].</param>
    /// <param name="queryCentroids">[G, QC, D] after the last k-means iterations on q.</param>
    /// <param name="keyCentroids">[G, KC, D] after the last k-means iterations on k.</param>
    /// <param name="sampledKeysPerCluster">Probe at most this many keys of each key cluster (<see cref="ProbeKeySample"/>); null: every key.</param>
    /// <param name="normalisation">Where the probe takes each query cluster's normaliser and output from.</param>
    Tensor EstimateCompensationError(Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, int? sampledKeysPerCluster, ProbeNormalisation normalisation);

    /// <summary>
    /// Sets the selection over the video clusters (text blocks as the shape fixes them) to the blocks
    /// <see cref="ErrorAwareSelection.Select"/> keeps for <paramref name="scores"/> under <paramref name="rule"/>,
    /// and plans the attention: the selection of error-aware routing.
    /// </summary>
    /// <param name="scores">[G, QC, KC] float64 from <see cref="EstimateCompensationError"/>.</param>
    /// <param name="rule">Threshold and minimum.</param>
    void SelectByError(Tensor scores, ErrorRoutingRule rule);

    /// <summary>Enqueues the sparse attention of the current selection into <paramref name="output"/> [G, S, D] (same dtype as q), original token order.</summary>
    void Attend(Tensor q, Tensor k, Tensor v, Tensor output);

    /// <summary>Why <see cref="AttendFp8"/> cannot run under <paramref name="settings"/> on this pipeline's device, or null when it can.</summary>
    string? Fp8Unsupported(Attention.Fp8.Fp8AttentionSettings settings);

    /// <summary>
    /// As <see cref="Attend"/> with Q, K, P and V in FP8 E4M3 under <paramref name="settings"/> (the scheme of
    /// <see cref="Attention.Fp8.Fp8BlockSparseAttention"/>); only where <see cref="Fp8Unsupported"/> gives null.
    /// </summary>
    void AttendFp8(Tensor q, Tensor k, Tensor v, Tensor output, Attention.Fp8.Fp8AttentionSettings settings);

    /// <summary>Whether <see cref="AttendCompensated"/> takes this compensation mode.</summary>
    bool Compensates(CompensationMode mode);

    /// <summary>
    /// As <see cref="Attend"/>, plus centroid compensation of every video block the selection leaves
    /// out. The centroids, as the last k-means iterations left them, are the member means of the
    /// current layouts. Per row, <paramref name="tailMass"/> &gt; 0 folds the light tail
    /// (<see cref="CompensationTail"/>) into one term per query cluster.
    /// </summary>
    void AttendCompensated(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, Tensor output, CompensationMode mode, double tailMass);

    /// <summary>[G] float64 density of the current selection, text blocks included (a new tensor, on the device).</summary>
    Tensor Density();

    /// <summary>
    /// New tensors holding the current selection, which stay valid when later calls overwrite the pipeline's buffers:
    /// the labels (every row) and block mask, text blocks appended when the shape has text, with the
    /// <see cref="BlockSparsity.FloorShare"/> of the rule of the last <see cref="Select"/> or <see cref="SelectByError"/>,
    /// and the [G] float64 density (as <see cref="Density"/>).
    /// </summary>
    (BlockSparsity Sparsity, Tensor Density) CopySelection();
}
