using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// Ranges, tile plan and the variable-block sparse attention (attention.cu). q, k, v and the output
/// stay in original token order: the permutations are applied inside the kernel's loads and store.
/// </summary>
internal static class SparseAttentionKernels
{
    /// <summary>Largest query-cluster count the planner's in-shared-memory sort supports.</summary>
    public const int MaxQueryClusters = 8192;

    /// <summary>The most tiles any head can have: every cluster adds at most one partial tile.</summary>
    public static int MaxTiles(long queryTokens, long queryClusters, int tileRows) => (int)((queryTokens + tileRows - 1) / tileRows + queryClusters);

    /// <summary>
    /// Enqueues ranges and plan from a mask and the layouts; with <paramref name="statistics"/>, the
    /// selection's density and floor share too (<see cref="PlanStatistics"/>), exactly as
    /// <see cref="BlockSparsity.Density"/> of the layouts and <see cref="SelectionFloor.Share"/> compute them.
    /// </summary>
    public static void EnqueuePlan(KernelLibrary library, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, AttentionWorkspace workspace,
        IntPtr stream, PlanStatistics? statistics = null)
    {
        int groups = (int)queryLayout.Groups, queryClusters = (int)queryLayout.Clusters, keyClusters = (int)keyLayout.Clusters;
        if (queryClusters > MaxQueryClusters)
            throw new ArgumentException($"The CUDA attention planner supports at most {MaxQueryClusters} query clusters; got {queryClusters}.");
        var (statisticsPointer, floorQueryClusters, countedKeyClusters, floorKept) = (new DevicePointer(0), 0, keyClusters, 0);
        if (statistics is { } wanted)
        {
            TensorChecks.RequireShape(wanted.Values, "statistics.Values", 2, groups);
            if (wanted.VideoQueryClusters < 1 || wanted.VideoQueryClusters > queryClusters || wanted.VideoKeyClusters > keyClusters)
                throw new ArgumentException($"The statistics' {wanted.VideoQueryClusters} x {wanted.VideoKeyClusters} video clusters must lie within the layouts' {queryClusters} x {keyClusters}.",
                    nameof(statistics));
            statisticsPointer = DevicePointer.Of(wanted.Values, ScalarType.Float64, "statistics.Values");
            (floorQueryClusters, countedKeyClusters, floorKept) = (wanted.VideoQueryClusters, wanted.VideoKeyClusters, Math.Max(1, wanted.MinimumKept));
        }
        var keptClusters = DevicePointer.Of(workspace.KeptClusters, ScalarType.Int32, nameof(workspace.KeptClusters));
        var pairs = PairsOf(library, workspace);
        library.Launch("svg2_key_ranges", (queryClusters, groups), SparseAttentionTraits.RangeThreads, 0, stream,
            DevicePointer.Of(blockMask, ScalarType.Bool, nameof(blockMask)),
            DevicePointer.Of(keyLayout.Offsets, ScalarType.Int64, "keyLayout.Offsets"),
            DevicePointer.Of(workspace.RangeStart, ScalarType.Int32, nameof(workspace.RangeStart)),
            DevicePointer.Of(workspace.RangeEnd, ScalarType.Int32, nameof(workspace.RangeEnd)),
            DevicePointer.Of(workspace.RangeCount, ScalarType.Int32, nameof(workspace.RangeCount)),
            DevicePointer.Of(workspace.SelectedKeys, ScalarType.Int32, nameof(workspace.SelectedKeys)),
            keptClusters, Pointer(pairs?.MaskBits, ScalarType.Int32, "pairs.MaskBits"), queryClusters, keyClusters, countedKeyClusters);
        if (pairs is not null) EnqueueTailPairs(library, queryLayout, keyLayout, blockMask, pairs, stream);
        int padded = (int)System.Numerics.BitOperations.RoundUpToPowerOf2((uint)queryClusters);
        // The reciprocals libtorch multiplies by when it divides by a scalar and takes a mean on CUDA.
        double densityScale = 1.0 / ((double)queryLayout.Tokens * keyLayout.Tokens);
        double floorScale = floorQueryClusters > 0 ? 1.0 / floorQueryClusters : 0;
        library.Launch("svg2_plan_tiles", (groups, 1), SparseAttentionTraits.PlanThreads, padded * sizeof(ulong) + queryClusters * sizeof(int), stream,
            DevicePointer.Of(queryLayout.Sizes, ScalarType.Int64, "queryLayout.Sizes"),
            DevicePointer.Of(workspace.SelectedKeys, ScalarType.Int32, nameof(workspace.SelectedKeys)),
            keptClusters,
            Pointer(pairs?.Partner, ScalarType.Int32, "pairs.Partner"),
            DevicePointer.Of(workspace.Order, ScalarType.Int32, nameof(workspace.Order)),
            DevicePointer.Of(workspace.TileStart, ScalarType.Int32, nameof(workspace.TileStart)),
            Pointer(pairs?.TileStart, ScalarType.Int32, "pairs.TileStart"),
            statisticsPointer, queryClusters, padded, SparseAttentionTraits.TileRows(library.Family), floorQueryClusters, floorKept, densityScale, floorScale);
    }

    /// <summary>The workspace's tail pairing where this library's plan pairs tails (the Hopper kernels), else null.</summary>
    internal static TailPairBuffers? PairsOf(KernelLibrary library, AttentionWorkspace workspace) =>
        library.Family == KernelFamily.Hopper ? workspace.Pairs : null;

    static DevicePointer Pointer(Tensor? tensor, ScalarType type, string name) => tensor is null ? new DevicePointer(0) : DevicePointer.Of(tensor, type, name);

    /// <summary>
    /// Enqueues the tail pairing (tail_pairs.cu) after the range lists: each cluster's candidates by shared keys, the
    /// greedy matching and the pairs' range lists.
    /// </summary>
    static void EnqueueTailPairs(KernelLibrary library, ClusterLayout queryLayout, ClusterLayout keyLayout, Tensor blockMask, TailPairBuffers pairs,
        IntPtr stream)
    {
        int groups = (int)queryLayout.Groups, queryClusters = (int)queryLayout.Clusters, keyClusters = (int)keyLayout.Clusters;
        var (candidateShared, matchingShared) = SparseAttentionTraits.TailPairSharedBytes(queryClusters, keyClusters);
        var queryOffsets = DevicePointer.Of(queryLayout.Offsets, ScalarType.Int64, "queryLayout.Offsets");
        var keyOffsets = DevicePointer.Of(keyLayout.Offsets, ScalarType.Int64, "keyLayout.Offsets");
        var candidates = DevicePointer.Of(pairs.Candidates, ScalarType.Int32, "pairs.Candidates");
        var candidateCount = DevicePointer.Of(pairs.CandidateCount, ScalarType.Int32, "pairs.CandidateCount");
        var partner = DevicePointer.Of(pairs.Partner, ScalarType.Int32, "pairs.Partner");
        var slot = DevicePointer.Of(pairs.Slot, ScalarType.Int32, "pairs.Slot");
        library.Launch("svg2_tail_candidates", (queryClusters, groups), SparseAttentionTraits.TailPairThreads, candidateShared, stream,
            DevicePointer.Of(pairs.MaskBits, ScalarType.Int32, "pairs.MaskBits"), queryOffsets, keyOffsets, candidates, candidateCount, queryClusters,
            keyClusters);
        library.Launch("svg2_pair_tails", (groups, 1), SparseAttentionTraits.TailMatchThreads, matchingShared, stream, candidates, candidateCount, partner,
            slot, queryClusters);
        library.Launch("svg2_pair_ranges", (queryClusters, groups), SparseAttentionTraits.TailPairThreads, 0, stream,
            DevicePointer.Of(blockMask, ScalarType.Bool, nameof(blockMask)), keyOffsets, partner, slot,
            DevicePointer.Of(pairs.RangeStart, ScalarType.Int32, "pairs.RangeStart"), DevicePointer.Of(pairs.RangeEnd, ScalarType.Int32, "pairs.RangeEnd"),
            DevicePointer.Of(pairs.RangeCount, ScalarType.Int32, "pairs.RangeCount"), DevicePointer.Of(pairs.Bounds, ScalarType.Int32, "pairs.Bounds"),
            queryClusters, keyClusters, pairs.Capacity);
    }

    /// <summary>
    /// Enqueues the attention itself; every row of <paramref name="output"/> is written. With
    /// <paramref name="compensation"/>, each row also merges its query cluster's compensation term into
    /// its softmax at the store; with <paramref name="centroidKeys"/> (Hopper only), each row also attends
    /// the centroid keys of its query cluster (compensation.cuh).
    /// </summary>
    public static void EnqueueAttention(KernelLibrary library, Tensor q, Tensor k, Tensor v, Tensor output,
        ClusterLayout queryLayout, ClusterLayout keyLayout, AttentionWorkspace workspace, double scale, IntPtr stream,
        ClusterCompensationTerms? compensation = null, CentroidKeys? centroidKeys = null)
    {
        if (centroidKeys is not null && library.Family != KernelFamily.Hopper)
            throw new ArgumentException("Per-row centroid compensation runs in the Hopper attention kernel; this GPU uses the portable kernels.");
        int groups = (int)q.shape[0], queryTokens = (int)q.shape[1], keyTokens = (int)k.shape[1];
        int queryClusters = (int)queryLayout.Clusters, keyClusters = (int)keyLayout.Clusters;
        int tileRows = SparseAttentionTraits.TileRows(library.Family);
        var (kernel, threads) = library.Traits.Attention.Launch(library.Family);
        var (log2Weight, compensationValue) = (new DevicePointer(0), new DevicePointer(0));
        if (compensation is not null)
        {
            TensorChecks.RequireShape(compensation.Log2Weight, "compensation.Log2Weight", groups, queryClusters);
            TensorChecks.RequireShape(compensation.Value, "compensation.Value", groups, queryClusters, q.shape[2]);
            log2Weight = DevicePointer.Of(compensation.Log2Weight, ScalarType.Float32, "compensation.Log2Weight");
            compensationValue = DevicePointer.Of(compensation.Value, ScalarType.Float32, "compensation.Value");
        }
        if (centroidKeys is not null)
        {
            TensorChecks.RequireShape(centroidKeys.List, "centroidKeys.List", groups, queryClusters, keyClusters);
            TensorChecks.RequireShape(centroidKeys.Keys, "centroidKeys.Keys", groups, centroidKeys.Clusters, q.shape[2]);
        }
        int shared = library.Traits.Attention.SharedBytes(library.Family, keyClusters, centroidKeys is not null);
        if (shared > library.Device.MaxSharedBytesPerBlock)
            throw new ArgumentException($"The CUDA attention keeps each query cluster's key-range list in shared memory; {keyClusters} key clusters need {shared} B, more than the {library.Device.MaxSharedBytesPerBlock} B this GPU allows per block. Use fewer key clusters.");
        // Per-row compensation lists centroid keys per query cluster, which a pair tile's two clusters do not share.
        var pairs = centroidKeys is null ? PairsOf(library, workspace) : null;
        KernelArgument[] arguments = [
            DevicePointer.Of(q, library.Element, nameof(q)), DevicePointer.Of(k, library.Element, nameof(k)),
            DevicePointer.Of(v, library.Element, nameof(v)), DevicePointer.Of(output, library.Element, nameof(output)),
            .. PlanArguments(queryLayout, keyLayout, workspace, pairs?.TileStart),
            queryTokens, keyTokens, queryClusters, keyClusters, (float)(scale * Log2E), log2Weight, compensationValue];
        if (library.Family == KernelFamily.Hopper)
            arguments = [.. arguments, .. CentroidKeyArguments(centroidKeys, library.Element), .. PairArguments(pairs)];
        library.Launch(kernel, (MaxTiles(queryTokens, queryClusters, tileRows), groups), threads, shared, stream, arguments);
    }

    /// <summary>
    /// The plan's arguments of the attention kernels, in their order: the query permutation and offsets, the key
    /// permutation, the range lists, the cluster order and the tile starts (<paramref name="tileStart"/>, those of the
    /// paired plan, where given).
    /// </summary>
    internal static KernelArgument[] PlanArguments(ClusterLayout queryLayout, ClusterLayout keyLayout, AttentionWorkspace workspace, Tensor? tileStart = null) =>
    [
        DevicePointer.Of(queryLayout.Permutation, ScalarType.Int64, "queryLayout.Permutation"),
        DevicePointer.Of(queryLayout.Offsets, ScalarType.Int64, "queryLayout.Offsets"),
        DevicePointer.Of(keyLayout.Permutation, ScalarType.Int64, "keyLayout.Permutation"),
        DevicePointer.Of(workspace.RangeStart, ScalarType.Int32, nameof(workspace.RangeStart)),
        DevicePointer.Of(workspace.RangeEnd, ScalarType.Int32, nameof(workspace.RangeEnd)),
        DevicePointer.Of(workspace.RangeCount, ScalarType.Int32, nameof(workspace.RangeCount)),
        DevicePointer.Of(workspace.Order, ScalarType.Int32, nameof(workspace.Order)),
        DevicePointer.Of(tileStart ?? workspace.TileStart, ScalarType.Int32, nameof(workspace.TileStart)),
    ];

    /// <summary>log2(e): the kernels take the softmax scale in the exp2 domain.</summary>
    internal const double Log2E = 1.4426950408889634;

    /// <summary>The Hopper kernels' pair-tile arguments: partners, slots, the pairs' range lists, bounds and capacity (null pointers without).</summary>
    internal static KernelArgument[] PairArguments(TailPairBuffers? pairs)
    {
        var none = new DevicePointer(0);
        if (pairs is null) return [none, none, none, none, none, none, 0];
        return [DevicePointer.Of(pairs.Partner, ScalarType.Int32, "pairs.Partner"), DevicePointer.Of(pairs.Slot, ScalarType.Int32, "pairs.Slot"),
                DevicePointer.Of(pairs.RangeStart, ScalarType.Int32, "pairs.RangeStart"), DevicePointer.Of(pairs.RangeEnd, ScalarType.Int32, "pairs.RangeEnd"),
                DevicePointer.Of(pairs.RangeCount, ScalarType.Int32, "pairs.RangeCount"), DevicePointer.Of(pairs.Bounds, ScalarType.Int32, "pairs.Bounds"),
                pairs.Capacity];
    }

    /// <summary>The Hopper kernel's per-row compensation arguments: list, count, keys, values, biases and their cluster count (null pointers without).</summary>
    static KernelArgument[] CentroidKeyArguments(CentroidKeys? keys, ScalarType element)
    {
        var none = new DevicePointer(0);
        if (keys is null) return [none, none, none, none, none, 0];
        return [DevicePointer.Of(keys.List, ScalarType.Int32, "centroidKeys.List"), DevicePointer.Of(keys.Count, ScalarType.Int32, "centroidKeys.Count"),
                DevicePointer.Of(keys.Keys, element, "centroidKeys.Keys"), DevicePointer.Of(keys.Values, element, "centroidKeys.Values"),
                DevicePointer.Of(keys.Bias, ScalarType.Float32, "centroidKeys.Bias"), keys.Clusters];
    }
}
