using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Tests.Attention;

/// <summary>
/// A fused backend whose pipeline runs the reference stages (the ones the staged path runs), so that the
/// operator's fused call sequence (clustering, probe, error-aware selection, compensated attention) is
/// tested on a CPU: a staged and a fused call of one operator must then agree. No text rows.
/// </summary>
sealed class ReferenceFusedBackend : ICompensatingBackend, IFusedSvg2Backend
{
    readonly ReferenceBackend _reference = ReferenceBackend.Instance;
    readonly Dictionary<FusedShape, Pipeline> _pipelines = [];

    /// <summary>The number of fused probe calls, to show the fused path ran.</summary>
    public int ProbeCalls { get; private set; }

    public string Name => "reference, fused";

    public bool Supports(Tensor q, Tensor k, Tensor v, out string? reason) => _reference.Supports(q, k, v, out reason);

    public KMeansResult KMeans(Tensor points, Tensor initialCentroids, int iterations, KMeansPrecision precision) => _reference.KMeans(points, initialCentroids, iterations, precision);

    public ClusterLayout Layout(Tensor labels, int clusters) => _reference.Layout(labels, clusters);

    public Tensor SelectKeyClusters(Tensor queryCentroids, Tensor keyCentroids, Tensor keySizes, SelectionRule rule) =>
        _reference.SelectKeyClusters(queryCentroids, keyCentroids, keySizes, rule);

    public Tensor BlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, double scale) =>
        _reference.BlockSparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale);

    public ClusterMeans Means(Tensor q, Tensor k, Tensor v, Tensor queryLabels, Tensor keyLabels, int queryClusters, int keyClusters) =>
        _reference.Means(q, k, v, queryLabels, keyLabels, queryClusters, keyClusters);

    public Tensor EstimateCompensationError(Tensor k, Tensor v, ClusterLayout keyLayout, ClusterMeans means, int? sampledKeysPerCluster = null,
        ProbeNormalisation normalisation = ProbeNormalisation.Exact) =>
        _reference.EstimateCompensationError(k, v, keyLayout, means, sampledKeysPerCluster, normalisation);

    public Tensor CompensatedBlockSparseAttention(Tensor q, Tensor k, Tensor v, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask,
        double scale, CentroidCompensation compensation) =>
        _reference.CompensatedBlockSparseAttention(q, k, v, queryLayout, keyLayout, blockMask, scale, compensation);

    public bool CanFuse(Tensor q, Tensor k, Tensor v, TextTokens? text, out string? reason)
    {
        reason = text is null ? null : "the test pipeline takes no text rows";
        return text is null;
    }

    public IFusedSvg2Pipeline PipelineFor(FusedShape shape)
    {
        if (!_pipelines.TryGetValue(shape, out var pipeline)) _pipelines[shape] = pipeline = new Pipeline(this, shape);
        return pipeline;
    }

    /// <summary>The reference stages behind the fused interface; it keeps the latest call's labels, inputs and mask.</summary>
    sealed class Pipeline(ReferenceFusedBackend backend, FusedShape shape) : IFusedSvg2Pipeline
    {
        Tensor? _q, _queryLabels, _keyLabels, _mask;
        int _minimumKept;

        public FusedShape Shape => shape;

        public void Cluster(Tensor q, Tensor k, Tensor queryStart, Tensor keyStart, Tensor queryCentroids, Tensor keyCentroids, int iterations,
            KMeansPrecision precision)
        {
            using (var result = backend.KMeans(q, queryStart, iterations, precision))
            {
                queryCentroids.copy_(result.Centroids);
                Keep(ref _queryLabels, result.Labels);
            }
            using (var result = backend.KMeans(k, keyStart, iterations, precision))
            {
                keyCentroids.copy_(result.Centroids);
                Keep(ref _keyLabels, result.Labels);
            }
            _q = q;
        }

        public void Select(Tensor queryCentroids, Tensor keyCentroids, SelectionRule rule)
        {
            using var sizes = Sizes(_keyLabels!, shape.KeyClusters);
            using var mask = backend.SelectKeyClusters(queryCentroids, keyCentroids, sizes, rule);
            Keep(ref _mask, mask);
            _minimumKept = rule.MinimumKept(shape.KeyClusters);
        }

        public bool EstimatesCompensationError => true;

        public Tensor EstimateCompensationError(Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, int? sampledKeysPerCluster,
            ProbeNormalisation normalisation)
        {
            backend.ProbeCalls++;
            using var means = MeansOf(k, v);
            using var layout = backend.Layout(_keyLabels!, shape.KeyClusters);
            return backend.EstimateCompensationError(k, v, layout, means, sampledKeysPerCluster, normalisation);
        }

        public void SelectByError(Tensor scores, ErrorRoutingRule rule)
        {
            using var mask = ErrorAwareSelection.Select(scores, rule);
            Keep(ref _mask, mask);
            _minimumKept = rule.MinimumKept(shape.KeyClusters);
        }

        public void Attend(Tensor q, Tensor k, Tensor v, Tensor output)
        {
            using var sparsity = CopySparsity();
            output.copy_(backend._reference.Attend(q, k, v, sparsity));
        }

        public string? Fp8Unsupported(Svg2.Attention.Fp8.Fp8AttentionSettings settings) => "this test backend has no FP8 attention";

        public void AttendFp8(Tensor q, Tensor k, Tensor v, Tensor output, Svg2.Attention.Fp8.Fp8AttentionSettings settings) =>
            throw new NotSupportedException(Fp8Unsupported(settings));

        public bool Compensates(CompensationMode mode) => true;

        public void AttendCompensated(Tensor q, Tensor k, Tensor v, Tensor queryCentroids, Tensor keyCentroids, Tensor output, CompensationMode mode,
            double tailMass)
        {
            using var sparsity = CopySparsity();
            using var means = MeansOf(k, v);
            var attention = new Svg2Attention(new Svg2Options { Compensation = mode, Routing = KeyClusterRouting.TopP, CompensationTailMass = tailMass }, backend);
            output.copy_(attention.Attend(q, k, v, sparsity, means));
        }

        public Tensor Density()
        {
            using var sparsity = CopySparsity();
            return sparsity.Density().to(ScalarType.Float64);
        }

        public (BlockSparsity Sparsity, Tensor Density) CopySelection()
        {
            var sparsity = CopySparsity() with { FloorShare = SelectionFloor.Share(_mask!, _minimumKept) };
            return (sparsity, Density());
        }

        BlockSparsity CopySparsity() => new(_queryLabels!.clone(), _keyLabels!.clone(), _mask!.clone());

        ClusterMeans MeansOf(Tensor k, Tensor v) => backend.Means(_q!, k, v, _queryLabels!, _keyLabels!, shape.QueryClusters, shape.KeyClusters);

        /// <summary>Holds a copy of <paramref name="value"/> outside every dispose scope, replacing (and freeing) the previous one.</summary>
        static void Keep(ref Tensor? field, Tensor value)
        {
            field?.Dispose();
            field = value.clone().DetachFromDisposeScope();
        }

        static Tensor Sizes(Tensor labels, int clusters) =>
            zeros([labels.shape[0], clusters], ScalarType.Int64, labels.device).scatter_add_(1, labels, ones_like(labels));
    }
}
