using Svg2.Algorithm;
using Svg2.Attention;
using Svg2.Attention.Fp8;
using Svg2.Backends;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Statistics;

/// <summary>
/// What FP8 attention costs in accuracy: for dense attention and for SVG2's blocks at one density, the
/// relative error of the FP8 emulation under every scale granularity, with and without K smoothing, against
/// the same attention on bf16 inputs (the output a bf16 kernel would give) and on float32 inputs.
/// </summary>
/// <remarks>
/// FP8 and bf16 run on the inputs rounded to bf16, as a model on the GPU hands them over; float32 runs on the
/// inputs as given. Errors are per head, ||O - O_ref|| / ||O_ref|| in float64.
/// </remarks>
public static class Fp8ErrorStudy
{
    /// <summary>One attention in one precision against the two references.</summary>
    /// <param name="Attention">"dense" or "svg2".</param>
    /// <param name="Density">The attention's mean density (1 for dense).</param>
    /// <param name="Precision">"bf16", or the FP8 variant ("fp8 per-tile, smoothed", ...).</param>
    /// <param name="Settings">The FP8 settings; null for the bf16 row.</param>
    /// <param name="AgainstBFloat16">[G] relative error against the bf16 output (0 for the bf16 row itself).</param>
    /// <param name="AgainstFloat32">[G] relative error against the float32 output.</param>
    public sealed record Row(string Attention, double Density, string Precision, Fp8AttentionSettings? Settings, double[] AgainstBFloat16, double[] AgainstFloat32)
    {
        /// <summary>Mean over heads of the error against bf16.</summary>
        public double MeanAgainstBFloat16 => AgainstBFloat16.Average();

        /// <summary>Worst head's error against bf16.</summary>
        public double MaxAgainstBFloat16 => AgainstBFloat16.Max();

        /// <summary>Mean over heads of the error against float32.</summary>
        public double MeanAgainstFloat32 => AgainstFloat32.Average();

        /// <summary>Worst head's error against float32.</summary>
        public double MaxAgainstFloat32 => AgainstFloat32.Max();
    }

    /// <summary>The FP8 settings compared: every scale granularity without smoothing, with K smoothing, and with K and Q smoothing.</summary>
    public static IReadOnlyList<Fp8AttentionSettings> Variants { get; } =
        [.. Enum.GetValues<Fp8ScaleGranularity>().SelectMany(scales => new[]
        {
            new Fp8AttentionSettings(scales, SmoothKeys: false), new Fp8AttentionSettings(scales, SmoothKeys: true),
            new Fp8AttentionSettings(scales, SmoothKeys: true, SmoothQueries: true),
        })];

    /// <summary>A short name of FP8 settings, as the reports print it.</summary>
    public static string Describe(Fp8AttentionSettings settings) =>
        $"fp8 {settings.Scales switch { Fp8ScaleGranularity.PerHead => "per-head", Fp8ScaleGranularity.PerTile => "per-tile", Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys => "per-token Q, per-head K", _ => "per-token" }}{(settings.SmoothKeys ? ", K smoothed" : "")}{(settings.SmoothQueries ? ", Q smoothed" : "")}";

    /// <summary>
    /// Runs the study on [G, S, D] inputs (D 64 or 128): dense attention, then SVG2's blocks (clustered
    /// afresh from <paramref name="options"/>, driven to <paramref name="density"/> or at the options' top-p).
    /// </summary>
    public static IReadOnlyList<Row> Run(Tensor q, Tensor k, Tensor v, Svg2Options options, double? density, TextTokens? text = null)
    {
        Fp8Tiles.RequireHeadDim(q.shape[2]);
        using var scope = NewDisposeScope();
        var rows = new List<Row>();
        var float32 = (q.to(ScalarType.Float32), k.to(ScalarType.Float32), v.to(ScalarType.Float32));
        var bfloat16 = (q.to(ScalarType.BFloat16), k.to(ScalarType.BFloat16), v.to(ScalarType.BFloat16));
        rows.AddRange(Compare("dense", 1.0, float32, bfloat16, (x, y, z) => DenseAttention.Forward(x, y, z),
            (x, y, z, settings) => Fp8DenseAttention.Forward(x, y, z, settings)));

        var method = new Svg2Method(MethodCatalog.OptionsFor(MethodCatalog.Svg2, options) with { Precision = AttentionPrecision.BFloat16 }, Text: text);
        using var prepared = method.Prepare(q, k, v);
        var sparsity = (BlockSparsity)(density is { } target ? DensitySearch.Find(prepared, target).Pattern : prepared.Plan(options.TopP));
        using var densities = sparsity.Density();
        var backend = ReferenceBackend.Instance;
        rows.AddRange(Compare(MethodCatalog.Svg2, densities.mean().item<double>(), float32, bfloat16, (x, y, z) => backend.Attend(x, y, z, sparsity),
            (x, y, z, settings) => backend.AttendFp8(x, y, z, sparsity, settings)));
        return rows;
    }

    static IEnumerable<Row> Compare(string attention, double density, (Tensor, Tensor, Tensor) float32, (Tensor, Tensor, Tensor) bfloat16,
        Func<Tensor, Tensor, Tensor, Tensor> attend, Func<Tensor, Tensor, Tensor, Fp8AttentionSettings, Tensor> attendFp8)
    {
        using var exact = attend(float32.Item1, float32.Item2, float32.Item3);
        using var reference = attend(bfloat16.Item1, bfloat16.Item2, bfloat16.Item3);
        var rows = new List<Row> { new(attention, density, "bf16", null, new double[exact.shape[0]], RelativeErrors(reference, exact)) };
        foreach (var settings in Variants)
        {
            using var output = attendFp8(bfloat16.Item1, bfloat16.Item2, bfloat16.Item3, settings);
            rows.Add(new Row(attention, density, Describe(settings), settings, RelativeErrors(output, reference), RelativeErrors(output, exact)));
        }
        return rows;
    }

    /// <summary>[G] ||actual - expected|| / ||expected|| per group, in float64.</summary>
    static double[] RelativeErrors(Tensor actual, Tensor expected)
    {
        using var scope = NewDisposeScope();
        var a = actual.to(ScalarType.Float64).flatten(1);
        var e = expected.to(ScalarType.Float64).flatten(1);
        var errors = (a - e).square().sum([1]).sqrt() / e.square().sum([1]).sqrt().clamp_min(1e-300);
        return errors.cpu().data<double>().ToArray();
    }
}
