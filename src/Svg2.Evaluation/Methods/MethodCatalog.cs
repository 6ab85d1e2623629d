using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Backends;
using Svg2.Configuration;

namespace Svg2.Evaluation.Methods;

/// <summary>The compared methods by name, configured alike.</summary>
public static class MethodCatalog
{
    /// <summary>SVG2: k-means clusters, the top-p rule, skipped clusters dropped.</summary>
    public const string Svg2 = "svg2";

    /// <summary>SVG2 with centroid compensation of skipped clusters and error-aware routing.</summary>
    public const string Svg2Ear = "svg2-ear";

    /// <summary>Position blocks with as many query and key blocks as SVG2 has clusters (its mean cluster sizes).</summary>
    public const string Blocks = "blocks";

    /// <summary>Position blocks of 64 tokens for queries and keys.</summary>
    public const string Blocks64 = "blocks-64";

    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [Svg2, Svg2Ear, Blocks, Blocks64, "window", "oracle", "dense"];

    /// <summary>Whether the method clusters queries and keys (and so reads the SVG2 options).</summary>
    public static bool Clusters(string name) => IsOneOf(name, Svg2, Svg2Ear);

    /// <summary>Whether the method can attend in FP8 (<see cref="AttentionPrecision.Fp8"/>): SVG2's exact blocks and dense attention.</summary>
    public static bool AttendsInFp8(string name) => IsOneOf(name, Svg2, "dense");

    /// <summary>Throws <see cref="ArgumentException"/> when options with FP8 precision are given to a method without an FP8 path.</summary>
    public static void RequirePrecisionSupport(string name, Svg2Options options)
    {
        if (options.Precision == AttentionPrecision.Fp8 && !AttendsInFp8(name))
            throw new ArgumentException($"FP8 attention covers {Svg2} and dense attention; the {name} method attends in bf16 only (drop --precision fp8, or pick those methods).");
    }

    /// <summary>Whether the method keeps a minimum share of key blocks (and so reads the minimum ratio).</summary>
    public static bool KeepsMinimum(string name) => IsOneOf(name, Svg2, Svg2Ear, Blocks, Blocks64);

    static bool IsOneOf(string name, params string[] names) => names.Contains(name, StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The operator options of a clustering method: <c>svg2</c> is top-p routing without compensation
    /// whatever <paramref name="options"/> say; <c>svg2-ear</c> keeps the compensation and routing the
    /// options set, or, when they set no compensation, uses per-row compensation with error-aware routing
    /// (its default, the configuration measured in docs/quality.md).
    /// </summary>
    public static Svg2Options OptionsFor(string name, Svg2Options options) => name.ToLowerInvariant() switch
    {
        Svg2 => options with { Routing = KeyClusterRouting.TopP, Compensation = CompensationMode.None },
        Svg2Ear => options.Compensation == CompensationMode.None
            ? options with { Routing = KeyClusterRouting.ErrorAware, Compensation = CompensationMode.PerRow }
            : options,
        _ => throw new ArgumentException($"'{name}' is not a clustering method ({Svg2}, {Svg2Ear})."),
    };

    /// <summary>Creates a method (an <see cref="ArgumentException"/> for FP8 precision with a method that has no FP8 path).</summary>
    /// <param name="name">One of <see cref="Names"/>.</param>
    /// <param name="options">SVG2 options; the position-block baselines share their minimum ratio and selection rule, and <c>blocks</c> their cluster counts.</param>
    /// <param name="grid">Token grid, for the local window and the cluster counts of <c>blocks</c>.</param>
    /// <param name="text">Trailing text rows, for SVG2.</param>
    /// <param name="backend">Stage implementations for the block methods; the reference when null.</param>
    /// <param name="targetDensity">The density the method will be driven to, if any (see <see cref="TargetDensityFloor"/>).</param>
    /// <param name="state">SVG2's layer cache, to measure the warm-started steady state; null for a cold start.</param>
    public static IAttentionMethod Create(string name, Svg2Options options, TokenGrid grid, TextTokens? text = null, ISvg2Backend? backend = null,
        double? targetDensity = null, Svg2LayerState? state = null)
    {
        RequirePrecisionSupport(name, options);
        double ratio = TargetDensityFloor.MinimumRatio(options.MinKeyClusterRatio, targetDensity);
        switch (name.ToLowerInvariant())
        {
            case Svg2 or Svg2Ear:
                return new Svg2Method(OptionsFor(name, options) with { MinKeyClusterRatio = ratio }, backend, text, state);
            case Blocks:
                var (queryClusters, keyClusters) = options.ClusterCountsFor(grid.Tokens - (text?.Count ?? 0));
                return new PositionBlocksMethod(PositionBlocking.Into(queryClusters), PositionBlocking.Into(keyClusters), ratio, backend);
            case Blocks64:
                return PositionBlocksMethod.OfSize(64, ratio, backend, Blocks64);
            case "window":
                return new LocalWindowMethod(grid, backend);
            case "oracle":
                return new TokenOracleMethod();
            case "dense":
                return new DenseMethod(options.Precision, options.Fp8);
            default:
                throw new ArgumentException($"Unknown method '{name}'. Known methods: {string.Join(", ", Names)}.");
        }
    }
}
