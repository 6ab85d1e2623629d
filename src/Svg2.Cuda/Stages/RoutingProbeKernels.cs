using Svg2.Algorithm;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Cuda.Stages;

/// <summary>
/// The routing probe of error-aware routing on the GPU (probe.cu): the exact softmax of every query
/// cluster's mean row over all keys in key splits, their merge, and the squared compensation error
/// |E_ab|^2 of every block; <see cref="CompensationErrorProbe.Scores"/> turns them into the scores.
/// </summary>
/// <remarks>
/// The block shape and shared memory come from <see cref="RoutingProbeTraits"/>. The mean rows and centroids are rounded to the element type (the MMA operands); the
/// mean values stay float32, since the error is defined against the exact means compensation uses.
/// </remarks>
internal static class RoutingProbeKernels
{
    const int BlocksPerMultiprocessor = 2;
    const int MinimumSplitKeys = 1024;    // keys per split below which splitting stops paying for its merge
    const int MinimumCentroidSplitKeys = 128; // the same for the centroid pass, whose KC rows would leave the GPU mostly idle in one split
    const int Waves = 2;                  // resident grids' worth of blocks the splits aim at
    const int FineWaves = 8;              // the same for the fine-split variants: a shorter tail of the last wave
    const double Log2E = 1.4426950408889634; // log2(e): the kernels work in the exp2 domain

    /// <summary>
    /// Key splits per head: enough blocks to fill the GPU <paramref name="waves"/> times over, no split under
    /// <paramref name="minimumSplitKeys"/> keys, at most one per key cluster.
    /// </summary>
    public static int Splits(int multiprocessors, long groups, int queryClusters, int keyClusters, long tokens, int waves = Waves,
        int minimumSplitKeys = MinimumSplitKeys)
    {
        long blocks = groups * QueryTiles(queryClusters);
        long wanted = (waves * BlocksPerMultiprocessor * multiprocessors + blocks - 1) / blocks;
        return (int)Math.Clamp(Math.Min(wanted, tokens / minimumSplitKeys), 1, Math.Max(1, keyClusters));
    }

    /// <summary>The environment variable that picks the variant: <c>fast</c> (<see cref="PreferredVariant"/>) or a variant's name (<see cref="SettingName"/>).</summary>
    public const string VariantVariable = "SVG2_PROBE";

    /// <summary>The variant the probe runs when <see cref="VariantVariable"/> is unset.</summary>
    public const RoutingProbeVariant PreferredVariant = RoutingProbeVariant.FlashFineSplits;

    static readonly Lazy<RoutingProbeVariant> ConfiguredVariant = new(() => ParseVariant(Environment.GetEnvironmentVariable(VariantVariable)));

    /// <summary>The variant the probe runs unless a caller names one: <see cref="VariantVariable"/>'s, else <see cref="PreferredVariant"/>.</summary>
    public static RoutingProbeVariant DefaultVariant => ConfiguredVariant.Value;

    /// <summary>The setting of <see cref="VariantVariable"/> that names <paramref name="variant"/>: its name in kebab case (<c>flash-fine-splits</c>).</summary>
    public static string SettingName(RoutingProbeVariant variant) =>
        string.Concat(variant.ToString().Select((c, i) => char.IsUpper(c) && i > 0 ? $"-{char.ToLowerInvariant(c)}" : $"{char.ToLowerInvariant(c)}"));

    /// <summary>The variant a setting of <see cref="VariantVariable"/> names (unset, empty or <c>fast</c>: <see cref="PreferredVariant"/>).</summary>
    /// <exception cref="ArgumentException">The setting names no variant.</exception>
    public static RoutingProbeVariant ParseVariant(string? setting)
    {
        string name = setting?.Trim().ToLowerInvariant() ?? "";
        if (name is "" or "fast") return PreferredVariant;
        foreach (var variant in Enum.GetValues<RoutingProbeVariant>())
            if (name == SettingName(variant) || name == variant.ToString().ToLowerInvariant()) return variant;
        throw new ArgumentException(
            $"{VariantVariable} must be 'fast' or one of {string.Join(", ", Enum.GetValues<RoutingProbeVariant>().Select(v => $"'{SettingName(v)}'"))}; got '{setting}'.");
    }

    /// <summary>Whether two variants run the same arithmetic in the same order (the same sweep 1 and the same splits), so their outputs agree to rounding of the compiler's contractions.</summary>
    public static bool SameArithmetic(RoutingProbeVariant a, RoutingProbeVariant b) => FlashSweep(a) == FlashSweep(b) && SplitWaves(a) == SplitWaves(b);

    static bool FlashSweep(RoutingProbeVariant variant) => variant is RoutingProbeVariant.Flash or RoutingProbeVariant.FlashFineSplits;

    static int SplitWaves(RoutingProbeVariant variant) => variant is RoutingProbeVariant.FineSplits or RoutingProbeVariant.FlashFineSplits ? FineWaves : Waves;

    static int QueryTiles(int queryClusters) => (queryClusters + RoutingProbeTraits.TileRows - 1) / RoutingProbeTraits.TileRows;

    /// <summary>
    /// Enqueues the probe: <paramref name="squaredError"/> [G, QC, KC] float64 |E_ab|^2 (0 for empty key
    /// clusters) and <paramref name="squaredOutput"/> [G, QC] float32 |o_a|^2; every element of both is written.
    /// With <paramref name="scoreSizes"/>, sweep 2 writes the scores of <see cref="CompensationErrorProbe.Scores"/>
    /// into <paramref name="squaredError"/> instead (the same formula, its per-key-cluster factor computed first).
    /// </summary>
    /// <param name="library">Kernels of the device (element type and head dimension of k and v).</param>
    /// <param name="k">[G, N, D] keys in original order: contiguous, or the leading rows of a longer contiguous tensor.</param>
    /// <param name="v">[G, N, D] values, laid out as <paramref name="k"/>.</param>
    /// <param name="permutation">[G, R] int64 key layout permutation (R &gt;= N).</param>
    /// <param name="offsets">[G, L + 1] int64 key layout offsets (L &gt;= KC; the first KC clusters cover the N rows).</param>
    /// <param name="queryMeans">[G, QC, D] mean rows, the element type.</param>
    /// <param name="keyMeans">[G, KC, D] key means c_b, the element type.</param>
    /// <param name="valueMeans">[G, KC, D] float32 mean values v̄_b.</param>
    /// <param name="scale">Softmax scale.</param>
    /// <param name="squaredError">[G, QC, KC] float64 output.</param>
    /// <param name="squaredOutput">[G, QC] float32 output.</param>
    /// <param name="stream">CUDA stream (0 = legacy default).</param>
    /// <param name="variant">The walk (null: <see cref="DefaultVariant"/>).</param>
    /// <param name="afterStep">Called with "sweep 1" (or "centroid softmax"), "merge" and "sweep 2" after each kernel is enqueued (for timing).</param>
    /// <param name="sample">
    /// Walk only these keys of the layout (<see cref="ProbeKeySample"/>, built from <paramref name="offsets"/>), each
    /// cluster weighted for the keys it stands for; null walks every key. A sample's sweep 1 walks clusters (the flash
    /// pass reads whole contiguous key ranges), with the variant's splits.
    /// </param>
    /// <param name="scoreSizes">The clusters' sizes n_a [G, QC] and n_b [G, KC] (int64) to write scores with; null: squared errors.</param>
    /// <param name="normalisation">
    /// Where lse_a and o_a come from: sweep 1 and the merge (exact), or the size-weighted softmax over the key-cluster
    /// centroids (<see cref="CompensationErrorProbe.CentroidSoftmax"/>: the element-type means, the layout's cluster sizes
    /// and the mean values rounded to fp16), a flash pass over KC centroids that replaces sweep 1 before the same merge;
    /// sweep 2 is the same for both.
    /// </param>
    public static void Enqueue(KernelLibrary library, Tensor k, Tensor v, Tensor permutation, Tensor offsets, Tensor queryMeans, Tensor keyMeans,
        Tensor valueMeans, double scale, Tensor squaredError, Tensor squaredOutput, IntPtr stream, RoutingProbeVariant? variant = null,
        Action<string>? afterStep = null, ProbeKeySample? sample = null, ProbeNormalisation normalisation = ProbeNormalisation.Exact,
        ScoreSizes? scoreSizes = null)
    {
        var chosen = variant ?? DefaultVariant;
        if (!Enum.IsDefined(chosen)) throw new ArgumentOutOfRangeException(nameof(variant), chosen, "No routing probe variant of this value.");
        bool pipelined = chosen != RoutingProbeVariant.Baseline;
        bool flash = FlashSweep(chosen) && sample is null;
        long groups = k.shape[0], tokens = k.shape[1];
        int queryClusters = (int)queryMeans.shape[1], keyClusters = (int)keyMeans.shape[1], dim = library.HeadDim;
        var keysPointer = DevicePointer.OfRows(k, library.Element, nameof(k), out long groupRows);
        var valuesPointer = DevicePointer.OfRows(v, library.Element, nameof(v), out long valueRows);
        if (valueRows != groupRows || !v.shape.SequenceEqual(k.shape) || k.shape[2] != dim)
            throw new ArgumentException($"The probe takes k and v of one layout [G, N, {dim}]; got k [{string.Join(", ", k.shape)}] ({groupRows} rows apart), v [{string.Join(", ", v.shape)}] ({valueRows} rows apart).");
        TensorChecks.RequireShape(queryMeans, nameof(queryMeans), groups, queryClusters, dim);
        TensorChecks.RequireShape(keyMeans, nameof(keyMeans), groups, keyClusters, dim);
        TensorChecks.RequireShape(valueMeans, nameof(valueMeans), groups, keyClusters, dim);
        TensorChecks.RequireShape(squaredError, nameof(squaredError), groups, queryClusters, keyClusters);
        TensorChecks.RequireShape(squaredOutput, nameof(squaredOutput), groups, queryClusters);
        if (permutation.dim() != 2 || permutation.shape[0] != groups || permutation.shape[1] < tokens)
            throw new ArgumentException($"permutation must be [{groups}, R >= {tokens}]; got [{string.Join(", ", permutation.shape)}].", nameof(permutation));
        if (offsets.dim() != 2 || offsets.shape[0] != groups || offsets.shape[1] < keyClusters + 1)
            throw new ArgumentException($"offsets must be [{groups}, L + 1 >= {keyClusters + 1}]; got [{string.Join(", ", offsets.shape)}].", nameof(offsets));
        using var scope = NewDisposeScope();
        var layoutOffsets = offsets;
        Tensor? log2Weights = null;
        if (sample is not null)
        {
            TensorChecks.RequireShape(sample.Offsets, "sample offsets", groups, keyClusters + 1);
            // The walk reads keys through the sample's rows, clusters through its offsets.
            permutation = sample.Rows(permutation);
            offsets = sample.Offsets;
            log2Weights = (sample.LogWeights * Log2E).contiguous();
        }
        long walkedRows = sample is null ? tokens : permutation.shape[1];
        int shared = RoutingProbeTraits.SharedBytes(dim, keyClusters, pipelined);
        if (shared > library.Device.MaxSharedBytesPerBlock)
            throw new ArgumentException($"The routing probe keeps a head's key-cluster offsets in shared memory; {keyClusters} key clusters need {shared} B, more than the {library.Device.MaxSharedBytesPerBlock} B this GPU allows per block. Use fewer key clusters.");
        int splits = Splits(library.Device.Multiprocessors, groups, queryClusters, keyClusters, walkedRows, SplitWaves(chosen)), tiles = QueryTiles(queryClusters);
        float scaleLog2 = (float)(scale * Log2E);
        var weightsPointer = log2Weights is null ? new DevicePointer(0) : DevicePointer.Of(log2Weights, ScalarType.Float32, "sample log2 weights");
        var lse = empty([groups, queryClusters], ScalarType.Float32, k.device);
        var output = empty([groups, queryClusters, dim], ScalarType.Float32, k.device);
        var queryPointer = DevicePointer.Of(queryMeans, library.Element, nameof(queryMeans));
        var valueMeansPointer = DevicePointer.Of(valueMeans, ScalarType.Float32, nameof(valueMeans));
        var permutationPointer = DevicePointer.Of(permutation, ScalarType.Int64, nameof(permutation));
        var offsetsPointer = DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets));
        int permutationRows = (int)permutation.shape[1], layoutClusters = (int)offsets.shape[1] - 1;
        var grid = (tiles * splits, (int)groups);
        // Sweep 1's (or the centroid pass's) per-split partial softmax states, merged into lse, output and squared output.
        bool centroid = normalisation == ProbeNormalisation.Centroid;
        int softmaxSplits = centroid
            ? Splits(library.Device.Multiprocessors, groups, queryClusters, keyClusters, keyClusters, SplitWaves(chosen), MinimumCentroidSplitKeys)
            : splits;
        var partialMax = empty([groups, softmaxSplits, queryClusters], ScalarType.Float32, k.device);
        var partialSum = empty([groups, softmaxSplits, queryClusters], ScalarType.Float32, k.device);
        var partialOutput = empty([groups, softmaxSplits, queryClusters, dim], ScalarType.Float32, k.device);
        var partialMaxPointer = DevicePointer.Of(partialMax, ScalarType.Float32, nameof(partialMax));
        var partialSumPointer = DevicePointer.Of(partialSum, ScalarType.Float32, nameof(partialSum));
        var partialOutputPointer = DevicePointer.Of(partialOutput, ScalarType.Float32, nameof(partialOutput));
        if (centroid)
        {
            // Every key cluster is one key of weight n_b (log2 n_b: -inf for an empty one); its value is the mean value in fp16,
            // 0 for an empty cluster, whose probability is an exact 0 that must not meet a non-finite value.
            var clusterSizes = (layoutOffsets.narrow(1, 1, keyClusters) - layoutOffsets.narrow(1, 0, keyClusters)).to(ScalarType.Float32);
            var clusterLog2Weights = clusterSizes.log2().contiguous();
            var halfValueMeans = valueMeans.masked_fill(clusterSizes.eq(0).unsqueeze(-1), 0).to(ScalarType.Float16).contiguous();
            library.Launch("svg2_probe_centroid_softmax", (tiles * softmaxSplits, (int)groups), RoutingProbeTraits.Threads, RoutingProbeTraits.FlashSharedBytes(dim), stream,
                queryPointer, DevicePointer.Of(keyMeans, library.Element, nameof(keyMeans)), DevicePointer.Of(halfValueMeans, ScalarType.Float16, "fp16 value means"),
                DevicePointer.Of(clusterLog2Weights, ScalarType.Float32, "cluster log2 weights"), keyClusters, queryClusters, softmaxSplits, tiles, scaleLog2,
                partialMaxPointer, partialSumPointer, partialOutputPointer);
            afterStep?.Invoke("centroid softmax");
        }
        else
        {
            if (flash)
                library.Launch("svg2_probe_flash_softmax", grid, RoutingProbeTraits.Threads, RoutingProbeTraits.FlashSharedBytes(dim), stream,
                    queryPointer, keysPointer, valuesPointer, groupRows, (int)tokens, queryClusters, splits, tiles, scaleLog2,
                    partialMaxPointer, partialSumPointer, partialOutputPointer);
            else
                library.Launch("svg2_probe_softmax", grid, RoutingProbeTraits.Threads, shared, stream,
                    queryPointer, valueMeansPointer, keysPointer, valuesPointer, groupRows, permutationPointer, permutationRows, offsetsPointer, layoutClusters,
                    weightsPointer, queryClusters, keyClusters, splits, tiles, scaleLog2, partialMaxPointer, partialSumPointer, partialOutputPointer, pipelined ? 1 : 0);
            afterStep?.Invoke("sweep 1");
        }
        int rows = (int)(groups * queryClusters);
        library.Launch("svg2_probe_merge", ((rows + RoutingProbeTraits.MergeWarps - 1) / RoutingProbeTraits.MergeWarps, 1), RoutingProbeTraits.MergeThreads, 0, stream,
            partialMaxPointer, partialSumPointer, partialOutputPointer, DevicePointer.Of(lse, ScalarType.Float32, nameof(lse)),
            DevicePointer.Of(output, ScalarType.Float32, nameof(output)), DevicePointer.Of(squaredOutput, ScalarType.Float32, nameof(squaredOutput)),
            (int)groups, queryClusters, softmaxSplits);
        afterStep?.Invoke("merge");
        // Scores straight from sweep 2: the per-head energy from the merged outputs, S^2 / (n_b E) per key cluster.
        var (columnScale, querySizesPointer) = (new DevicePointer(0), new DevicePointer(0));
        if (scoreSizes is { } sizes)
        {
            TensorChecks.RequireShape(sizes.Query, "query sizes", groups, queryClusters);
            TensorChecks.RequireShape(sizes.Key, "key sizes", groups, keyClusters);
            var energy = (sizes.Query.to(ScalarType.Float64) * squaredOutput.to(ScalarType.Float64)).sum(1, keepdim: true).clamp_min(CompensationErrorProbe.MinimumEnergy);
            var keyCounts = sizes.Key.to(ScalarType.Float64);
            var scales = where(keyCounts > 0, (double)tokens * tokens / (keyCounts.clamp_min(1) * energy), zeros_like(keyCounts)).contiguous();
            columnScale = DevicePointer.Of(scales, ScalarType.Float64, "column scales");
            querySizesPointer = DevicePointer.Of(sizes.Query, ScalarType.Int64, "query sizes");
        }
        library.Launch("svg2_probe_errors", grid, RoutingProbeTraits.Threads, shared, stream,
            queryPointer, DevicePointer.Of(keyMeans, library.Element, nameof(keyMeans)), valueMeansPointer, keysPointer, valuesPointer, groupRows,
            permutationPointer, permutationRows, offsetsPointer, layoutClusters, weightsPointer, queryClusters, keyClusters, splits, tiles, scaleLog2,
            DevicePointer.Of(lse, ScalarType.Float32, nameof(lse)), DevicePointer.Of(output, ScalarType.Float32, nameof(output)),
            DevicePointer.Of(squaredError, ScalarType.Float64, nameof(squaredError)), pipelined ? 1 : 0, columnScale, querySizesPointer);
        afterStep?.Invoke("sweep 2");
    }

    /// <summary>
    /// <see cref="ProbeKeySample.Of"/> in one kernel (svg2_probe_key_sample, a head per block): the same positions,
    /// clusters, offsets and log weights, without its [G, KC x m] chain of TorchSharp operations.
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="offsets">[G, L + 1] int64 key layout offsets (L &gt;= KC).</param>
    /// <param name="keyClusters">KC.</param>
    /// <param name="perCluster">Keys kept of each cluster at most.</param>
    /// <param name="stream">CUDA stream.</param>
    public static ProbeKeySample KeySample(KernelLibrary library, Tensor offsets, int keyClusters, int perCluster, IntPtr stream)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(perCluster, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(keyClusters, 1);
        if (offsets.dim() != 2 || offsets.shape[1] < keyClusters + 1)
            throw new ArgumentException($"Layout offsets must be [G, L + 1 >= {keyClusters + 1}]; got [{string.Join(", ", offsets.shape)}].", nameof(offsets));
        long groups = offsets.shape[0];
        int shared = (keyClusters + 1) * sizeof(int);
        if (shared > library.Device.MaxSharedBytesPerBlock)
            throw new ArgumentException($"The probe's key sample keeps a head's {keyClusters} cluster counts in shared memory ({shared} B), more than this GPU allows per block.");
        var positions = empty([groups, (long)keyClusters * perCluster], ScalarType.Int64, offsets.device);
        var clusters = empty([groups, (long)keyClusters * perCluster], ScalarType.Int64, offsets.device);
        var sampledOffsets = empty([groups, keyClusters + 1], ScalarType.Int64, offsets.device);
        var logWeights = empty([groups, keyClusters], ScalarType.Float32, offsets.device);
        library.Launch("svg2_probe_key_sample", ((int)groups, 1), RoutingProbeTraits.SampleThreads, shared, stream,
            DevicePointer.Of(offsets, ScalarType.Int64, nameof(offsets)), (int)offsets.shape[1] - 1, keyClusters, perCluster,
            DevicePointer.Of(positions, ScalarType.Int64, "sample positions"), DevicePointer.Of(clusters, ScalarType.Int64, "sample clusters"),
            DevicePointer.Of(sampledOffsets, ScalarType.Int64, "sample offsets"), DevicePointer.Of(logWeights, ScalarType.Float32, "sample log weights"));
        return ProbeKeySample.FromParts(positions, clusters, sampledOffsets, logWeights, perCluster);
    }

    /// <summary>
    /// The scores of <see cref="CompensationErrorProbe.Estimate"/> from the kernels: the means converted
    /// to the kernels' operand types, the probe, and the shared normalisation.
    /// </summary>
    /// <param name="library">Kernels of the device.</param>
    /// <param name="k">[G, N, D] keys (see <see cref="Enqueue"/>).</param>
    /// <param name="v">[G, N, D] values.</param>
    /// <param name="permutation">Key layout permutation [G, R].</param>
    /// <param name="offsets">Key layout offsets [G, L + 1].</param>
    /// <param name="queryMeans">[G, QC, D] any floating dtype.</param>
    /// <param name="keyMeans">[G, KC, D] any floating dtype.</param>
    /// <param name="valueMeans">[G, KC, D] any floating dtype.</param>
    /// <param name="querySizes">[G, QC] int64.</param>
    /// <param name="keySizes">[G, KC] int64.</param>
    /// <param name="variant">The walk (null: <see cref="DefaultVariant"/>).</param>
    /// <param name="afterStep">Called after each kernel (see <see cref="Enqueue"/>); sweep 2 writes the normalised scores.</param>
    /// <param name="sampledKeysPerCluster">Walk at most this many keys of each key cluster (<see cref="ProbeKeySample"/>); null: every key.</param>
    /// <param name="normalisation">Where lse_a and o_a come from (see <see cref="Enqueue"/>).</param>
    /// <returns>[G, QC, KC] float64 scores.</returns>
    public static Tensor Scores(KernelLibrary library, Tensor k, Tensor v, Tensor permutation, Tensor offsets, Tensor queryMeans, Tensor keyMeans,
        Tensor valueMeans, Tensor querySizes, Tensor keySizes, RoutingProbeVariant? variant = null, Action<string>? afterStep = null,
        int? sampledKeysPerCluster = null, ProbeNormalisation normalisation = ProbeNormalisation.Exact)
    {
        using var scope = NewDisposeScope();
        using var sample = sampledKeysPerCluster is { } perCluster ? KeySample(library, offsets, (int)keyMeans.shape[1], perCluster, IntPtr.Zero) : null;
        long groups = k.shape[0];
        var scores = empty([groups, queryMeans.shape[1], keyMeans.shape[1]], ScalarType.Float64, k.device);
        var squaredOutput = empty([groups, queryMeans.shape[1]], ScalarType.Float32, k.device);
        Enqueue(library, k, v, permutation, offsets, queryMeans.to(library.Element).contiguous(), keyMeans.to(library.Element).contiguous(),
            valueMeans.to(ScalarType.Float32).contiguous(), 1.0 / Math.Sqrt(k.shape[2]), scores, squaredOutput, IntPtr.Zero, variant, afterStep, sample, normalisation,
            new ScoreSizes(querySizes.to(ScalarType.Int64).contiguous(), keySizes.to(ScalarType.Int64).contiguous()));
        return scores.MoveToOuterDisposeScope();
    }
}
