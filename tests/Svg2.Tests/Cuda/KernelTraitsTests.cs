using System.Text.RegularExpressions;
using Svg2.Cuda.Runtime;
using Svg2.Cuda.Stages;
using Svg2.Cuda.Traits;
using static TorchSharp.torch;

namespace Svg2.Tests.Cuda;

/// <summary>
/// The kernel traits against the embedded kernel sources and the limits of an H100: every macro a
/// kernel refuses to compile without is defined, every defined macro is read, and the derived
/// launch shapes and shared-memory sizes are consistent.
/// </summary>
public partial class KernelTraitsTests
{
    // An H100 (sm_90) gives a block at most 227 KiB of dynamic shared memory and a multiprocessor 228 KiB, of
    // which the driver keeps 1 KiB per resident block; a block has at most 1024 threads.
    const int H100SharedPerBlock = 227 * 1024, H100SharedPerMultiprocessor = 228 * 1024, DriverSharedPerBlock = 1024, MaxBlockThreads = 1024;

    static readonly AttentionTuning[] Tunings = [AttentionTuning.Default, AttentionTuning.Parse("32,32,3"), AttentionTuning.Parse("16,16,1"), AttentionTuning.Parse("64,32,2")];

    public static TheoryData<ScalarType, int> Variants => new() { { ScalarType.BFloat16, 64 }, { ScalarType.BFloat16, 128 }, { ScalarType.Float16, 64 }, { ScalarType.Float16, 128 } };

    static IEnumerable<string> AllPrograms => KernelSources.ProgramsFor(KernelFamily.Hopper);

    [GeneratedRegex(@"#include ""(?<file>[\w.]+)""")]
    private static partial Regex Include();

    [GeneratedRegex(@"#ifndef\s+(?<name>SVG2_\w+)\s*\n\s*#error")]
    private static partial Regex RequiredMacro();

    /// <summary>The program and every header it includes, directly or through other headers.</summary>
    static string TranslationUnit(string program)
    {
        var seen = new HashSet<string>();
        var text = new List<string>();
        void Add(string file)
        {
            if (!seen.Add(file)) return;
            var source = KernelSources.Read(file);
            text.Add(source);
            foreach (Match include in Include().Matches(source)) Add(include.Groups["file"].Value);
        }
        Add(program);
        return string.Join("\n", text);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void EveryRequiredMacroIsDefinedOnce(ScalarType element, int headDim)
    {
        foreach (var tuning in Tunings)
        {
            var traits = new KernelTraits(element, headDim, tuning);
            foreach (var program in AllPrograms)
            {
                var required = RequiredMacro().Matches(TranslationUnit(program)).Select(m => m.Groups["name"].Value).ToHashSet();
                var names = traits.Macros(program).Select(m => m.Name).ToList();
                Assert.True(required.Count >= 2, $"{program} guards only {required.Count} macros");
                Assert.Equal(names.Count, names.Distinct().Count());
                Assert.Empty(required.Except(names));
            }
        }
    }

    [Fact]
    public void EveryDefinedMacroIsGuardedByItsProgram()
    {
        var traits = new KernelTraits(ScalarType.BFloat16, 128, AttentionTuning.Default);
        foreach (var program in AllPrograms)
        {
            var required = RequiredMacro().Matches(TranslationUnit(program)).Select(m => m.Groups["name"].Value).ToHashSet();
            Assert.Empty(traits.Macros(program).Select(m => m.Name).Except(required));
        }
    }

    [Fact]
    public void KernelSourcesDefineNoMacroDefaults()
    {
        foreach (var program in AllPrograms)
            Assert.DoesNotMatch(@"#ifndef\s+SVG2_\w+\s*\n\s*#define", TranslationUnit(program));
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void CompileOptionsCarryHeadDimElementTypeAndTuning(ScalarType element, int headDim)
    {
        var traits = new KernelTraits(element, headDim, AttentionTuning.Parse("32,32,3"));
        foreach (var program in AllPrograms)
        {
            var options = traits.CompileOptions(program);
            Assert.Contains($"-DSVG2_HEAD_DIM={headDim}", options);
            Assert.Contains($"-DSVG2_ELEMENT_FP16={(element == ScalarType.Float16 ? 1 : 0)}", options);
        }
        var attention = traits.CompileOptions("attention.cu");
        Assert.Contains("-DSVG2_ATTENTION_BLOCK_KEYS=32", attention);
        Assert.Contains("-DSVG2_ATTENTION_WARP_ROWS=32", attention);
        Assert.Contains("-DSVG2_ATTENTION_MIN_BLOCKS=3", attention);
        Assert.Equal(KernelTraits.For(element, headDim).CompileOptions("kmeans.cu"), KernelLibrary.CompileOptions("kmeans.cu", element, headDim));
    }

    [Fact]
    public void AnUnknownProgramIsNamed() =>
        Assert.Contains("nowhere.cu", Assert.Throws<ArgumentException>(() => KernelTraits.For(ScalarType.BFloat16, 128).Macros("nowhere.cu")).Message);

    [Theory]
    [InlineData("64,16,2", 64, 16, 2, 128)]
    [InlineData("32,32,3", 32, 32, 3, 64)]
    [InlineData(null, 64, 16, 2, 128)]
    public void AttentionTuningParses(string? text, int keys, int warpRows, int minBlocks, int threads)
    {
        var tuning = AttentionTuning.Parse(text);
        var (kernel, launched) = new SparseAttentionTraits(128, tuning).Launch(KernelFamily.Portable);
        Assert.Equal((keys, warpRows, minBlocks, threads), (tuning.BlockKeys, tuning.WarpRows, tuning.MinBlocks, launched));
        Assert.Equal("svg2_sparse_attention", kernel);
    }

    [Theory]
    [InlineData("64,16")]
    [InlineData("48,24,2")]
    [InlineData("128,16,2")]
    [InlineData("64,32,0")]
    public void BadAttentionTuningIsRejected(string text) =>
        Assert.Contains(AttentionTuning.Setting, Assert.Throws<ArgumentException>(() => AttentionTuning.Parse(text)).Message);

    [Fact]
    public void LaunchesAreWholeWarpsWithinTheBlockLimit()
    {
        int[] threads =
        [
            .. Tunings.Select(t => new SparseAttentionTraits(128, t).Launch(KernelFamily.Portable).Threads),
            new SparseAttentionTraits(128, AttentionTuning.Default).Launch(KernelFamily.Hopper).Threads,
            SparseAttentionTraits.RangeThreads, SparseAttentionTraits.PlanThreads,
            KMeansTraits.AssignThreads, KMeansTraits.NormThreads, KMeansTraits.MeanThreads, KMeansTraits.WideMeanThreads,
            KMeansTraits.HopperThreads, KMeansTraits.HopperImageThreads, Fp8AttentionTraits.QuantizeThreads, RoutingProbeTraits.SampleThreads,
            CountingSortTraits.ChunkThreads, CountingSortTraits.OffsetsThreads, SelectionTraits.Threads,
            TransformerBlockTraits.ResidualThreads, TransformerBlockTraits.RowThreads(TransformerBlockTraits.MaxWidth),
        ];
        foreach (int count in threads)
        {
            Assert.Equal(0, count % KernelTraits.WarpSize);
            Assert.InRange(count, KernelTraits.WarpSize, MaxBlockThreads);
        }
        foreach (var tuning in Tunings)
            Assert.Equal(SparseAttentionTraits.PortableTileRows / tuning.WarpRows * KernelTraits.WarpSize,
                new SparseAttentionTraits(64, tuning).Launch(KernelFamily.Portable).Threads);
        // A producer warpgroup and one consumer warpgroup per 64 query rows.
        Assert.Equal(HopperTraits.WarpgroupThreads * (1 + SparseAttentionTraits.HopperTileRows / HopperTraits.WarpgroupRows), SparseAttentionTraits.HopperThreads);
        Assert.Equal(0, KMeansTraits.HopperItemPoints % HopperTraits.WarpgroupRows);
    }

    [Fact]
    public void SelectionFitsAnH100AtItsLargestKeyClusterCount()
    {
        // Two 64-bit keys per padded key cluster, plus the kernel's static histogram (256 counts and masses).
        const int StaticBytes = 256 * (sizeof(int) + sizeof(float)) + 64;
        Assert.InRange(SelectionTraits.SharedBytes(SelectionKernel.MaxKeyClusters) + StaticBytes, 1, H100SharedPerBlock);
        Assert.Equal(16 * 1024, SelectionTraits.SharedBytes(1024));
    }

    [Fact]
    public void CentroidProductTilesCoverEveryPair()
    {
        Assert.Equal(4 * 16, SelectionTraits.DotTiles(200, 1000));
        Assert.Equal(1, SelectionTraits.DotTiles(1, 1));
        Assert.Equal(2 * 2, SelectionTraits.DotTiles(SelectionTraits.DotTile + 1, 2 * SelectionTraits.DotTile));
    }

    [Theory]
    [InlineData(64, 1000)]
    [InlineData(128, 1000)]
    [InlineData(128, 2000)]
    public void Fp8AttentionFitsAnH100(int headDim, int keyClusters) =>
        Assert.InRange(Fp8AttentionTraits.SharedBytes(headDim, keyClusters), 1, H100SharedPerBlock);

    [Fact]
    public void Fp8AttentionSharedMemoryGrowsOnlyByTheRangeList()
    {
        Assert.Equal(8 * 500, Fp8AttentionTraits.SharedBytes(128, 1500) - Fp8AttentionTraits.SharedBytes(128, 1000));
        // A V^T tile and a staged V tile per unit of head dimension: D rows of 128 key bytes, 128 rows of D bytes.
        int perChannel = (Fp8AttentionTraits.SharedBytes(128, 1000) - Fp8AttentionTraits.SharedBytes(64, 1000)) / 64;
        Assert.Equal(Fp8AttentionTraits.Stages * SparseAttentionTraits.HopperTileKeys + 3 * SparseAttentionTraits.HopperTileKeys, perChannel);
    }

    [Fact]
    public void Fp8AttentionKernelKeepsTheReferenceQuantisationPoints()
    {
        // The reference's key step and query tile are the kernel's K/V tile and query tile, and P's scale its macro.
        Assert.Equal(Svg2.Attention.Fp8.Fp8Tiles.KeyBlockKeys, SparseAttentionTraits.HopperTileKeys);
        Assert.Equal(Svg2.Attention.Fp8.Fp8Tiles.QueryTileRows, SparseAttentionTraits.HopperTileRows);
        var traits = new KernelTraits(ScalarType.BFloat16, 128, AttentionTuning.Default);
        Assert.Equal((int)Svg2.Attention.Fp8.Fp8Tiles.ProbabilityScale, traits.Macros("attention_hopper_fp8.cu").Single(m => m.Name == "SVG2_FP8_PROBABILITY_SCALE").Value);
        Assert.Equal(Fp8AttentionTraits.Stages, traits.Macros("attention_hopper_fp8.cu").Single(m => m.Name == "SVG2_FP8_STAGES").Value);
    }

    [Theory]
    [InlineData(64, 1000, false)]
    [InlineData(128, 1000, false)]
    [InlineData(128, 2000, false)]
    [InlineData(128, 1000, true)]
    public void HopperAttentionFitsAnH100(int headDim, int keyClusters, bool centroidKeys) =>
        Assert.InRange(new SparseAttentionTraits(headDim, AttentionTuning.Default).SharedBytes(KernelFamily.Hopper, keyClusters, centroidKeys), 1, H100SharedPerBlock);

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void PortableAttentionBlocksShareAnH100Multiprocessor(int headDim)
    {
        foreach (var tuning in Tunings)
        {
            int shared = new SparseAttentionTraits(headDim, tuning).SharedBytes(KernelFamily.Portable, 1000);
            Assert.InRange(tuning.MinBlocks * (shared + DriverSharedPerBlock), 1, H100SharedPerMultiprocessor);
        }
    }

    [Theory]
    [InlineData(KernelFamily.Hopper)]
    [InlineData(KernelFamily.Portable)]
    public void AttentionSharedMemoryGrowsOnlyByTheRangeList(KernelFamily family)
    {
        int perCluster = 2 * sizeof(int);
        SparseAttentionTraits Traits(int headDim) => new(headDim, AttentionTuning.Default);
        Assert.Equal(500 * perCluster, Traits(128).SharedBytes(family, 1500) - Traits(128).SharedBytes(family, 1000));
        Assert.True(Traits(64).SharedBytes(family, 1000) < Traits(128).SharedBytes(family, 1000));
    }

    [Fact]
    public void PortableAttentionSharedMemoryFollowsTheTuning()
    {
        // The Q tile, two buffers of K and V tiles with their token lists, and the range list.
        int RowsOf(AttentionTuning tuning) => new SparseAttentionTraits(128, tuning).SharedBytes(KernelFamily.Portable, 0);
        Assert.Equal(64 * 256 + 2 * 64 * (2 * 256 + 4), RowsOf(AttentionTuning.Default));
        Assert.Equal(64 * 256 + 2 * 32 * (2 * 256 + 4), RowsOf(AttentionTuning.Parse("32,32,3")));
    }

    [Fact]
    public void PerRowCompensationAddsACentroidListAndBiasPerKeyCluster()
    {
        var traits = new SparseAttentionTraits(128, AttentionTuning.Default);
        Assert.Equal(1000 * (sizeof(int) + sizeof(float)), traits.SharedBytes(KernelFamily.Hopper, 1000, true) - traits.SharedBytes(KernelFamily.Hopper, 1000));
    }

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void KMeansAssignmentBlocksShareAnH100Multiprocessor(int headDim) =>
        Assert.InRange(KMeansTraits.AssignBlocksPerMultiprocessor * (new KMeansTraits(headDim).AssignSharedBytes + DriverSharedPerBlock),
            1, H100SharedPerMultiprocessor);

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void HopperKMeansAssignmentFitsAnH100(int headDim) =>
        Assert.InRange(new KMeansTraits(headDim).HopperAssignSharedBytes, 1, H100SharedPerBlock);

    [Theory]
    [InlineData(64)]
    [InlineData(128)]
    public void HopperCentroidTileImagesSuitBulkCopies(int headDim)
    {
        const int BulkCopyGranule = 16;
        int tileImage = new KMeansTraits(headDim).HopperTileImageBytes;
        Assert.Equal(0, tileImage % BulkCopyGranule);
        Assert.Equal(KMeansTraits.HopperTileCentroids * (2 * headDim + sizeof(float)), tileImage);
        Assert.Equal(3, KMeansTraits.HopperTiles(257));
    }

    [Fact]
    public void TailPairingSizesItsBuffersByClusters()
    {
        Assert.Equal(150, SparseAttentionTraits.PairCapacity(301));
        Assert.Equal(1, SparseAttentionTraits.PairCapacity(1));
        Assert.Equal(32, SparseAttentionTraits.MaskWords(1000));
        Assert.Equal(2, SparseAttentionTraits.MaskWords(33));
        var (candidates, matching) = SparseAttentionTraits.TailPairSharedBytes(200, 1000);
        Assert.Equal(200 * sizeof(ulong) + 1000 * sizeof(int) + 32 * sizeof(uint), candidates);
        Assert.Equal(2 * 200 * sizeof(int), matching);
    }

    [Fact]
    public void MacroValuesMatchTheDerivedShapes()
    {
        var traits = new KernelTraits(ScalarType.BFloat16, 128, AttentionTuning.Default);
        int Value(string program, string name) => traits.Macros(program).Single(m => m.Name == name).Value;
        Assert.Equal(SparseAttentionTraits.PortableTileRows, Value("attention.cu", "SVG2_ATTENTION_TILE_ROWS"));
        Assert.Equal(SparseAttentionTraits.RangeThreads, Value("attention.cu", "SVG2_ATTENTION_RANGE_THREADS"));
        Assert.Equal(SparseAttentionTraits.PlanThreads, Value("attention.cu", "SVG2_ATTENTION_PLAN_THREADS"));
        Assert.Equal(SparseAttentionTraits.HopperTileRows, Value("attention_hopper.cu", "SVG2_ATTENTION_HOPPER_CONSUMERS") * HopperTraits.WarpgroupRows);
        Assert.Equal(HopperTraits.WarpgroupRows, Value("tail_pairs.cu", "SVG2_TAIL_PAIRS_HALF_ROWS"));
        Assert.Equal(SparseAttentionTraits.TailMatchThreads, Value("tail_pairs.cu", "SVG2_TAIL_PAIRS_MATCH_THREADS"));
        Assert.Equal(KMeansTraits.HopperTileCentroids, Value("kmeans_hopper.cu", "SVG2_KMEANS_HOPPER_TILE_CENTROIDS"));
        Assert.Equal(KMeansTraits.HopperImageThreads, Value("kmeans_hopper.cu", "SVG2_KMEANS_HOPPER_IMAGE_THREADS"));
        Assert.Equal(KMeansTraits.AssignThreads, Value("kmeans.cu", "SVG2_KMEANS_ASSIGN_WARPS") * KernelTraits.WarpSize);
        Assert.Equal(KMeansTraits.AssignBlocksPerMultiprocessor, Value("kmeans.cu", "SVG2_KMEANS_ASSIGN_MIN_BLOCKS"));
        Assert.Equal(CountingSortTraits.Chunk, Value("layout.cu", "SVG2_SORT_CHUNK"));
        Assert.Equal(SelectionTraits.Threads, Value("selection.cu", "SVG2_SELECT_WARPS") * KernelTraits.WarpSize);
        Assert.Equal(TransformerBlockTraits.ResidualThreads, Value("transformer_block.cu", "SVG2_RESIDUAL_THREADS"));
        Assert.Equal(TransformerBlockTraits.MaxWidth,
            Value("transformer_block.cu", "SVG2_ROW_MAX_THREADS") * Value("transformer_block.cu", "SVG2_ROW_VECTORS_PER_THREAD") * TransformerBlockTraits.VectorElements);
    }
}
