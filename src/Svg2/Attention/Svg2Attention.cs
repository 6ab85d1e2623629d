using Svg2.Algorithm;
using Svg2.Backends;
using Svg2.Configuration;
using static TorchSharp.torch;

namespace Svg2.Attention;

/// <summary>
/// The SVG2 attention operator: per head, k-means on queries and keys (warm-started from the layer's
/// cache), size-weighted top-p selection of key clusters, and exact variable-block sparse attention
/// in the permuted layout, returned in the original token order.
/// </summary>
/// <remarks>
/// With <see cref="Svg2Options.Compensation"/> set, the key clusters a query cluster skips are
/// approximated from their centroid and mean value instead of dropped; with
/// <see cref="Svg2Options.Routing"/> = <see cref="KeyClusterRouting.ErrorAware"/>, the exact blocks
/// are those where that approximation would fail most per unit of cost (the <c>svg2-ear</c> method).
/// </remarks>
public sealed class Svg2Attention
{
    /// <summary>Creates the operator.</summary>
    /// <param name="options">Validated on construction.</param>
    /// <param name="backend">Stage implementations; the portable reference when null.</param>
    /// <remarks>
    /// Options with centroid compensation need a backend with that capability
    /// (<see cref="ICompensatingBackend"/>); with any other backend the operator runs on the reference
    /// backend and <see cref="FallbackReason"/> says why.
    /// </remarks>
    public Svg2Attention(Svg2Options options, ISvg2Backend? backend = null)
    {
        options.Validate();
        Options = options;
        Backend = BackendChoice.For(backend, options, out var reason);
        FallbackReason = reason;
    }

    /// <summary>The configuration.</summary>
    public Svg2Options Options { get; }

    /// <summary>The stage implementations.</summary>
    public ISvg2Backend Backend { get; }

    /// <summary>Why the backend given to the constructor is not the one used; null when it is.</summary>
    public string? FallbackReason { get; }

    /// <summary>
    /// Runs one sparse attention call. Each batch element and head is an independent problem.
    /// </summary>
    /// <remarks>
    /// When the backend can fuse the call (<see cref="IFusedSvg2Backend"/>) and no quality probe
    /// is given, the call runs through the backend's shared pipeline for its shape; otherwise
    /// stage by stage through <see cref="ISvg2Backend"/>. Both give the same selection and output.
    /// With <see cref="Svg2Options.TargetDensity"/> set, the layer's first sparse call searches its
    /// top-p and reads densities back to the host to do so; later calls do not synchronise.
    /// NaN or infinity in q, k or v: with <see cref="Svg2Options.CheckFinite"/> an <see cref="ArgumentException"/>
    /// names the first; otherwise it propagates alike on every backend (docs/design.md, "Non-finite inputs").
    /// </remarks>
    /// <param name="q">[B, H, S, D] after QK-norm and rotary embedding.</param>
    /// <param name="k">[B, H, S, D].</param>
    /// <param name="v">[B, H, S, D].</param>
    /// <param name="state">The layer's centroid cache: read for the warm start, then overwritten.</param>
    /// <param name="text">Trailing text rows (HunyuanVideo), or null for video only.</param>
    /// <param name="qualityProbe">An evaluation's measurement of the call (for example against dense attention); the call then runs staged.</param>
    public Svg2Result Forward(Tensor q, Tensor k, Tensor v, Svg2LayerState state, TextTokens? text = null,
        IAttentionQualityProbe? qualityProbe = null)
    {
        ValidateInputs(q, k, v, text);
        using var scope = NewDisposeScope();
        var (qg, kg, vg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k), AttentionInputs.Flatten(v));
        var call = qualityProbe is null && FusedPipelineFor(qg, kg, vg, text) is { } pipeline
            ? ForwardFused(pipeline, qg, kg, vg, state)
            : ForwardStaged(q, k, qg, kg, vg, state, text, qualityProbe);
        var result = call with
        {
            Output = call.Output.reshape(q.shape[0], q.shape[1], q.shape[2], v.shape[3]),
            Density = call.Density.reshape(q.shape[0], q.shape[1]),
        };
        result.Output.MoveToOuterDisposeScope();
        result.Density.MoveToOuterDisposeScope();
        result.Sparsity.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>The staged call; Output [G, S, D] and Density [G].</summary>
    Svg2Result ForwardStaged(Tensor q, Tensor k, Tensor qg, Tensor kg, Tensor vg, Svg2LayerState state, TextTokens? text,
        IAttentionQualityProbe? qualityProbe)
    {
        using var clustering = ClusterValidated(q, k, state, text);
        using var means = Options.Compensation == CompensationMode.None ? null : Means(qg, kg, vg, clustering);
        using var scores = Options.Routing == KeyClusterRouting.ErrorAware ? RoutingScores(kg, vg, clustering, means!) : null;
        var (sparsity, topP, threshold) = SelectForCall(state, clustering, scores);
        var output = Attend(qg, kg, vg, sparsity, means);
        qualityProbe?.Measure(qg, kg, vg, output, sparsity);
        return new Svg2Result(output, sparsity.Density(), sparsity, clustering.QueryClusters, clustering.KeyClusters, clustering.Iterations, topP, threshold);
    }

    /// <summary>
    /// The selection of a staged call under the configured routing, with the layer's budget search on
    /// its first call when a target density is set; returns the top-p used (NaN under error-aware
    /// routing) and the threshold used (null under top-p routing).
    /// </summary>
    (BlockSparsity Sparsity, double TopP, double? Threshold) SelectForCall(Svg2LayerState state, Svg2Clustering clustering, Tensor? scores)
    {
        if (scores is null)
        {
            var rule = SelectionRuleFor(state, candidate =>
            {
                using var trial = Select(clustering, candidate);
                return DensityBisection.MeanDensity(trial);
            });
            return (Select(clustering, rule), rule.TopP, null);
        }
        var errorRule = ErrorRoutingRuleFor(state, candidate =>
        {
            using var trial = SelectByError(clustering, scores, candidate);
            return DensityBisection.MeanDensity(trial);
        });
        return (SelectByError(clustering, scores, errorRule), double.NaN, errorRule.Threshold);
    }

    /// <summary>
    /// The fused call: k-means from the layer's centroids into new ones (adopted by the state), selection
    /// and plan, and the attention into a new output tensor; the selection and its statistics are copied
    /// out of the pipeline's buffers, which the next layer overwrites. Output [G, S, D] and Density [G].
    /// </summary>
    Svg2Result ForwardFused(IFusedSvg2Pipeline pipeline, Tensor qg, Tensor kg, Tensor vg, Svg2LayerState state)
    {
        var (queryCentroids, keyCentroids, iterations) = ClusterFused(pipeline, qg, kg, state);
        var shape = pipeline.Shape;
        var (topP, threshold) = Options.Routing == KeyClusterRouting.ErrorAware
            ? SelectFusedByError(pipeline, kg, vg, queryCentroids, keyCentroids, state)
            : SelectFusedByTopP(pipeline, queryCentroids, keyCentroids, state);
        var output = empty_like(qg);
        if (Options.Precision == AttentionPrecision.Fp8) pipeline.AttendFp8(qg, kg, vg, output, Options.Fp8);
        else if (Options.Compensation == CompensationMode.None) pipeline.Attend(qg, kg, vg, output);
        else pipeline.AttendCompensated(qg, kg, vg, queryCentroids, keyCentroids, output, Options.Compensation, Options.CompensationTailMass);
        state.Adopt(queryCentroids, keyCentroids);
        var (sparsity, density) = pipeline.CopySelection();
        return new Svg2Result(output, density, sparsity, shape.QueryClusters, shape.KeyClusters, iterations, topP, threshold);
    }

    /// <summary>The fused top-p selection of a call (the layer's search first when a target density is set).</summary>
    (double TopP, double? Threshold) SelectFusedByTopP(IFusedSvg2Pipeline pipeline, Tensor queryCentroids, Tensor keyCentroids,
        Svg2LayerState state)
    {
        var rule = SelectionRuleFor(state, candidate =>
        {
            pipeline.Select(queryCentroids, keyCentroids, candidate);
            return MeanDensity(pipeline);
        });
        pipeline.Select(queryCentroids, keyCentroids, rule);
        return (rule.TopP, null);
    }

    /// <summary>
    /// The fused error-aware selection of a call: the probe kernels' scores, then the blocks of the
    /// routing rule (the layer's search first when a target density is set).
    /// </summary>
    (double TopP, double? Threshold) SelectFusedByError(IFusedSvg2Pipeline pipeline, Tensor kg, Tensor vg, Tensor queryCentroids,
        Tensor keyCentroids, Svg2LayerState state)
    {
        using var scores = pipeline.EstimateCompensationError(kg, vg, queryCentroids, keyCentroids, Options.ProbeKeysPerCluster, Options.ProbeNormalisation);
        var errorRule = ErrorRoutingRuleFor(state, candidate =>
        {
            pipeline.SelectByError(scores, candidate);
            return MeanDensity(pipeline);
        });
        pipeline.SelectByError(scores, errorRule);
        return (double.NaN, errorRule.Threshold);
    }

    /// <summary>The mean density of the pipeline's current selection over the call's heads (a host read).</summary>
    static double MeanDensity(IFusedSvg2Pipeline pipeline)
    {
        using var density = pipeline.Density();
        using var mean = density.mean();
        return mean.cpu().item<double>();
    }

    /// <summary>
    /// Fused k-means on q and k from the layer's centroids (or a seeded random start): returns the
    /// updated centroids, which the caller hands to the state.
    /// </summary>
    (Tensor Query, Tensor Key, int Iterations) ClusterFused(IFusedSvg2Pipeline pipeline, Tensor qg, Tensor kg, Svg2LayerState state)
    {
        var shape = pipeline.Shape;
        long videoRows = shape.Tokens - (shape.Text?.Count ?? 0);
        var start = StartingCentroids(qg.narrow(1, 0, videoRows), kg.narrow(1, 0, videoRows), state, shape.QueryClusters, shape.KeyClusters);
        // New tensors the pipeline writes from the start, which may be the state's own centroids: no copy of the start.
        var (query, key) = (empty(start.Query.shape, start.Query.dtype, start.Query.device), empty(start.Key.shape, start.Key.dtype, start.Key.device));
        pipeline.Cluster(qg, kg, start.Query, start.Key, query, key, start.Iterations, Options.KMeansPrecision);
        return (query, key, start.Iterations);
    }

    /// <summary>
    /// The pipeline of the backend for this call, or null when the backend cannot fuse it (then the
    /// staged path runs): the pipeline must take the compensation mode and, under error-aware routing,
    /// run the probe.
    /// </summary>
    IFusedSvg2Pipeline? FusedPipelineFor(Tensor qg, Tensor kg, Tensor vg, TextTokens? text)
    {
        if (Backend is not IFusedSvg2Backend fused || !fused.CanFuse(qg, kg, vg, text, out _)) return null;
        var (queryClusters, keyClusters) = Options.ClusterCountsFor(qg.shape[1] - (text?.Count ?? 0));
        var pipeline = fused.PipelineFor(FusedShape.Of(qg, queryClusters, keyClusters, text));
        // FP8 the pipeline cannot run goes the staged way, whose backend names the reason.
        if (Options.Precision == AttentionPrecision.Fp8 && pipeline.Fp8Unsupported(Options.Fp8) is not null) return null;
        bool compensates = Options.Compensation == CompensationMode.None || pipeline.Compensates(Options.Compensation);
        bool routes = Options.Routing != KeyClusterRouting.ErrorAware || pipeline.EstimatesCompensationError;
        return compensates && routes ? pipeline : null;
    }

    /// <summary>
    /// The selection rule of a call: the configured one, or with a target density the layer's chosen
    /// top-p (<see cref="LayerBudget"/>), searched by bisection over <paramref name="meanDensityUnder"/> (which
    /// reruns only the selection and reads its mean density back to the host).
    /// </summary>
    SelectionRule SelectionRuleFor(Svg2LayerState state, Func<SelectionRule, double> meanDensityUnder)
    {
        if (Options.TargetDensity is not { } target) return Options.SelectionRule;
        var rule = Options.SelectionRule with { MinKeyClusterRatio = TargetDensityFloor.MinimumRatio(Options.MinKeyClusterRatio, target) };
        state.ChosenTopP = LayerBudget(state, state.ChosenTopP, topP => meanDensityUnder(rule with { TopP = topP }), 0, 1, TopPSearchSteps);
        return rule with { TopP = state.ChosenTopP.Value };
    }

    /// <summary>
    /// The error-routing rule of a call: the configured threshold, or with a target density the layer's
    /// chosen one (<see cref="LayerBudget"/>), searched by bisection of the level -log10 λ (<see cref="ErrorRoutingRule.LevelRange"/>).
    /// </summary>
    ErrorRoutingRule ErrorRoutingRuleFor(Svg2LayerState state, Func<ErrorRoutingRule, double> meanDensityUnder)
    {
        if (Options.TargetDensity is not { } target) return Options.ErrorRoutingRule;
        var rule = Options.ErrorRoutingRule with { MinKeyClusterRatio = TargetDensityFloor.MinimumRatio(Options.MinKeyClusterRatio, target) };
        var (low, high) = ErrorRoutingRule.LevelRange;
        // A level at the top of the range gives λ = 0 in float64, whose level is infinite: clamp it back.
        double? chosenLevel = state.ChosenErrorThreshold is { } threshold ? Math.Clamp((rule with { Threshold = threshold }).Level, low, high) : null;
        double level = LayerBudget(state, chosenLevel, level => meanDensityUnder(rule with { Threshold = ErrorRoutingRule.ThresholdAt(level) }),
            low, high, LevelSearchSteps);
        state.ChosenErrorThreshold = ErrorRoutingRule.ThresholdAt(level);
        return rule with { Threshold = state.ChosenErrorThreshold.Value };
    }

    /// <summary>
    /// A layer's budget parameter under a target density: searched by bisection on the layer's first sparse call and
    /// kept, since searching costs a selection per step; every <see cref="BudgetCheckInterval"/> calls the kept value's
    /// density is read back, and it is searched again when that strays more than <see cref="BudgetDriftTolerance"/>
    /// from the density the last search reached (not from the target, which a coarse selection may not reach at all).
    /// The scores a budget cuts change over denoising: the compensation error falls as the video settles, so a kept
    /// error threshold selected about a quarter fewer blocks by the last steps.
    /// </summary>
    double LayerBudget(Svg2LayerState state, double? chosen, Func<double, double> meanDensityAt, double low, double high, int steps)
    {
        if (chosen is { } kept && state.SearchedDensity is { } reached
            && (++state.CallsSinceSearch % BudgetCheckInterval != 0 || Math.Abs(meanDensityAt(kept) / reached - 1) <= BudgetDriftTolerance))
            return kept;
        var search = DensityBisection.Bisect(meanDensityAt, low, high, Options.TargetDensity!.Value, steps);
        state.SearchedDensity = search.Density;
        state.CallsSinceSearch = 0;
        return search.Parameter;
    }

    /// <summary>Calls of a layer with a kept budget between checks of its density (a selection and a host read each).</summary>
    public const int BudgetCheckInterval = 4;

    /// <summary>The relative gap between a kept budget's density and the target beyond which the layer searches again.</summary>
    public const double BudgetDriftTolerance = 0.05;

    /// <summary>Bisection steps at most when a layer searches its routing level (340 / 2^40 decades: far below any density step).</summary>
    const int LevelSearchSteps = 40;

    /// <summary>Bisection steps at most when a layer searches its top-p (2^-30 is far below any density step).</summary>
    const int TopPSearchSteps = 30;

    /// <summary>
    /// Runs only the clustering of a call and updates the layer's cache: what the reference does in
    /// dense warm-up calls when "zero-step k-means init" is on. The labels are discarded. Runs fused
    /// when the backend can (see <see cref="Forward"/>).
    /// </summary>
    public void RefineCentroids(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text = null)
    {
        ValidateInputs(q, k, null, text);
        using var scope = NewDisposeScope();
        var (qg, kg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k));
        if (FusedPipelineFor(qg, kg, kg, text) is { } pipeline)
        {
            var (query, key, _) = ClusterFused(pipeline, qg, kg, state);
            state.Adopt(query, key);
            return;
        }
        ClusterValidated(q, k, state, text).Dispose();
    }

    /// <summary>
    /// The clustering stage of a call: k-means on the video rows of q and of k, warm-started from
    /// <paramref name="state"/> when it holds compatible centroids; the state is overwritten.
    /// </summary>
    /// <param name="q">[B, H, S, D].</param>
    /// <param name="k">[B, H, S, D].</param>
    /// <param name="state">The layer's centroid cache.</param>
    /// <param name="text">Trailing text rows, excluded from clustering.</param>
    public Svg2Clustering Cluster(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text = null)
    {
        ValidateInputs(q, k, null, text);
        return ClusterValidated(q, k, state, text);
    }

    /// <summary>
    /// Shape, dtype and device checks of a call's inputs (v is null for the calls that only cluster), and
    /// with <see cref="Svg2Options.CheckFinite"/> their finiteness, which reads a flag back to the host.
    /// </summary>
    void ValidateInputs(Tensor q, Tensor k, Tensor? v, TextTokens? text)
    {
        AttentionInputs.Validate(q, k, v ?? k);
        text?.Validate(q.shape[2]);
        if (!Options.CheckFinite) return;
        AttentionInputs.RequireFinite(q, "q");
        AttentionInputs.RequireFinite(k, "k");
        if (v is not null) AttentionInputs.RequireFinite(v, "v");
    }

    /// <summary><see cref="Cluster"/> on inputs <see cref="ValidateInputs"/> has checked.</summary>
    Svg2Clustering ClusterValidated(Tensor q, Tensor k, Svg2LayerState state, TextTokens? text)
    {
        using var scope = NewDisposeScope();
        var (qg, kg) = (AttentionInputs.Flatten(q), AttentionInputs.Flatten(k));
        RequireBackendSupport(qg, kg, kg);
        long videoRows = qg.shape[1] - (text?.Count ?? 0);
        var (queryClusters, keyClusters) = Options.ClusterCountsFor(videoRows);
        var queryPoints = qg.narrow(1, 0, videoRows);
        var keyPoints = kg.narrow(1, 0, videoRows);
        var start = StartingCentroids(queryPoints, keyPoints, state, queryClusters, keyClusters);
        var query = Backend.KMeans(queryPoints, start.Query, start.Iterations, Options.KMeansPrecision);
        var key = Backend.KMeans(keyPoints, start.Key, start.Iterations, Options.KMeansPrecision);
        state.Store(query.Centroids, key.Centroids);
        query.MoveToOuterDisposeScope();
        key.MoveToOuterDisposeScope();
        return new Svg2Clustering(query, key, queryClusters, keyClusters, start.Iterations, text);
    }

    /// <summary>
    /// Where k-means starts: the state's centroids with <see cref="Svg2Options.StepIterations"/> when it
    /// holds compatible ones for both q and k, else seeded random rows (Seed for q, Seed + 1 for k) with
    /// <see cref="Svg2Options.InitIterations"/>. A warm start may be the state's own tensor: do not modify it.
    /// </summary>
    (Tensor Query, Tensor Key, int Iterations) StartingCentroids(Tensor queryPoints, Tensor keyPoints, Svg2LayerState state, int queryClusters, int keyClusters)
    {
        var queryStart = state.QueryWarmStart(queryPoints, queryClusters);
        var keyStart = state.KeyWarmStart(keyPoints, keyClusters);
        if (queryStart is not null && keyStart is not null) return (queryStart, keyStart, Options.StepIterations);
        return (KMeans.RandomInitialCentroids(queryPoints, queryClusters, Options.Seed),
                KMeans.RandomInitialCentroids(keyPoints, keyClusters, Options.Seed + 1), Options.InitIterations);
    }

    /// <summary>
    /// The selection stage: the critical key clusters of every query cluster under
    /// <paramref name="rule"/>, with the text blocks appended when the call has text.
    /// </summary>
    public BlockSparsity Select(Svg2Clustering clustering, SelectionRule rule)
    {
        using var scope = NewDisposeScope();
        var mask = Backend.SelectKeyClusters(clustering.Query.Centroids, clustering.Key.Centroids, clustering.Key.Sizes, rule);
        return Blocks(clustering, mask, rule.MinimumKept(clustering.KeyClusters)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The selection stage of error-aware routing: the blocks whose score from <see cref="RoutingScores"/>
    /// reaches <paramref name="rule"/>'s threshold (and each query cluster's minimum), with the text
    /// blocks appended when the call has text. Cheap: a density search may call it many times.
    /// </summary>
    public BlockSparsity SelectByError(Svg2Clustering clustering, Tensor scores, ErrorRoutingRule rule)
    {
        using var scope = NewDisposeScope();
        var mask = ErrorAwareSelection.Select(scores, rule);
        return Blocks(clustering, mask, rule.MinimumKept(clustering.KeyClusters)).MoveToOuterDisposeScope();
    }

    /// <summary>The block sparsity of a video selection: text blocks appended, the floor's share recorded.</summary>
    static BlockSparsity Blocks(Svg2Clustering clustering, Tensor mask, int minimumKept)
    {
        var sparsity = clustering.Text is { } text
            ? TextBlocks.Append(clustering.Query.Labels, clustering.Key.Labels, mask, clustering.QueryClusters, clustering.KeyClusters, text)
            : new BlockSparsity(clustering.Query.Labels.alias(), clustering.Key.Labels.alias(), mask);
        return WithFloorShare(sparsity, clustering.QueryClusters, clustering.KeyClusters, minimumKept);
    }

    static BlockSparsity WithFloorShare(BlockSparsity sparsity, int queryClusters, int keyClusters, int minimumKept) =>
        sparsity with { FloorShare = SelectionFloor.Share(sparsity.BlockMask.narrow(1, 0, queryClusters).narrow(2, 0, keyClusters), minimumKept) };

    /// <summary>
    /// The means compensation stands on: of the clustered (video) rows, per query cluster, key cluster
    /// and the values of each key cluster. Needs options with compensation.
    /// </summary>
    /// <param name="qg">[G, S, D].</param>
    /// <param name="kg">[G, S, D].</param>
    /// <param name="vg">[G, S, D].</param>
    /// <param name="clustering">From <see cref="Cluster"/>.</param>
    public ClusterMeans Means(Tensor qg, Tensor kg, Tensor vg, Svg2Clustering clustering)
    {
        long videoRows = clustering.Query.Labels.shape[1];
        return CompensatingBackend.Means(qg.narrow(1, 0, videoRows), kg.narrow(1, 0, videoRows), vg.narrow(1, 0, videoRows),
            clustering.Query.Labels, clustering.Key.Labels, clustering.QueryClusters, clustering.KeyClusters);
    }

    /// <summary>
    /// The routing probe: the error-to-cost score [G, QC, KC] of every block of video clusters
    /// (<see cref="CompensationErrorProbe"/>). Independent of the budget.
    /// </summary>
    /// <param name="kg">[G, S, D].</param>
    /// <param name="vg">[G, S, D].</param>
    /// <param name="clustering">From <see cref="Cluster"/>.</param>
    /// <param name="means">From <see cref="Means"/>.</param>
    public Tensor RoutingScores(Tensor kg, Tensor vg, Svg2Clustering clustering, ClusterMeans means)
    {
        using var scope = NewDisposeScope();
        long videoRows = clustering.Key.Labels.shape[1];
        using var keyLayout = Backend.Layout(clustering.Key.Labels, clustering.KeyClusters);
        return CompensatingBackend.EstimateCompensationError(kg.narrow(1, 0, videoRows), vg.narrow(1, 0, videoRows), keyLayout, means, Options.ProbeKeysPerCluster,
            Options.ProbeNormalisation).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The attention stage: permutation, variable-block attention over the selected blocks and the
    /// inverse permutation; with compensation, every skipped block of video clusters is approximated
    /// from <paramref name="means"/>. Under <see cref="AttentionPrecision.Fp8"/> the blocks are attended in FP8
    /// (<see cref="IFp8AttentionBackend"/>).
    /// </summary>
    /// <param name="qg">[G, S, D].</param>
    /// <param name="kg">[G, S, D].</param>
    /// <param name="vg">[G, S, D].</param>
    /// <param name="sparsity">Blocks from <see cref="Select"/> or <see cref="SelectByError"/>.</param>
    /// <param name="means">From <see cref="Means"/> when the options compensate; null otherwise.</param>
    /// <returns>[G, S, D] in the original token order.</returns>
    public Tensor Attend(Tensor qg, Tensor kg, Tensor vg, BlockSparsity sparsity, ClusterMeans? means = null)
    {
        if ((means is null) != (Options.Compensation == CompensationMode.None))
            throw new ArgumentException(means is null
                ? $"{Options.Compensation} compensation needs the cluster means of the call (Means)."
                : "These options do not compensate skipped key clusters; pass no cluster means.", nameof(means));
        if (Options.Precision == AttentionPrecision.Fp8)
            return (Backend as IFp8AttentionBackend ?? throw Fp8.Fp8Support.NoKernels(Backend.Name)).AttendFp8(qg, kg, vg, sparsity, Options.Fp8);
        if (means is null) return Backend.Attend(qg, kg, vg, sparsity);
        using var scope = NewDisposeScope();
        long queryBlocks = sparsity.BlockMask.shape[1], keyBlocks = sparsity.BlockMask.shape[2];
        // Text blocks (after the video clusters) are never approximated.
        var blocks = zeros_like(sparsity.BlockMask);
        blocks.narrow(1, 0, means.QueryClusters).narrow(2, 0, means.KeyClusters).fill_(true);
        var padded = means.PadTo(queryBlocks, keyBlocks);
        var tail = Options.Compensation == CompensationMode.PerRow && Options.CompensationTailMass > 0
            ? CompensationTail.Of(padded, 1.0 / Math.Sqrt(qg.shape[2]), Options.CompensationTailMass) : null;
        var compensation = new CentroidCompensation(Options.Compensation, padded, blocks, tail);
        return CompensatingBackend.Attend(qg, kg, vg, sparsity, compensation).MoveToOuterDisposeScope();
    }

    ICompensatingBackend CompensatingBackend => Backend as ICompensatingBackend
        ?? throw new InvalidOperationException($"The {Backend.Name} backend cannot compensate skipped key clusters; compensation needs options with Compensation set.");

    void RequireBackendSupport(Tensor q, Tensor k, Tensor v)
    {
        if (!Backend.Supports(q, k, v, out var reason))
            throw new NotSupportedException($"The {Backend.Name} backend cannot run these inputs: {reason}");
    }
}
