using System.Globalization;
using System.Text;
using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Evaluation.Statistics;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace Svg2.Tests.Workloads;

/// <summary>
/// Whether a model's attention is local on the video grid, and whether SVG2's clusters or position blocks of
/// matched granularity keep that local attention, on q, k, v files written by <c>svg2 generate --dump-qkv</c>.
/// Runs when SVG2_LOCALITY_REPORT lists such files (separated by the path separator); SVG2_LOCALITY_GRID is
/// their token grid FxHxW (the built-in small model's 33x12x16 when unset) and SVG2_LOCALITY_CLUSTERS the
/// query and key cluster counts QCxKC (31x104 when unset: about Wan 720p's cluster sizes on 6,336 tokens).
/// </summary>
public class DumpedLocalityReport(ITestOutputHelper output)
{
    const int SampledRows = 512;
    static readonly GridNeighbourhood Neighbourhood = new(FrameRadius: 1, SpatialRadius: 2);
    static readonly double[] Densities = [0.1, 0.2, 0.3];

    [SkippableFact]
    public void LocalityOfDumpedAttention()
    {
        var files = Environment.GetEnvironmentVariable("SVG2_LOCALITY_REPORT");
        Skip.If(string.IsNullOrEmpty(files), "Set SVG2_LOCALITY_REPORT to files written by svg2 generate --dump-qkv.");
        var counts = (Environment.GetEnvironmentVariable("SVG2_LOCALITY_CLUSTERS") ?? "31x104").Split('x').Select(int.Parse).ToArray();
        // Explicit counts, not scaled to the sequence: the comparison is at these cluster sizes.
        var options = new Svg2Options { QueryClusters = counts[0], KeyClusters = counts[1], ScaleClusterCounts = false };
        foreach (var file in files!.Split(Path.PathSeparator))
        {
            using var scope = NewDisposeScope();
            var (q4, k4, v4) = Svg2.IO.QkvFile.Read(file);
            var (q, k, v) = (AttentionInputs.Flatten(q4), AttentionInputs.Flatten(k4), AttentionInputs.Flatten(v4));
            var grid = Svg2.Cli.Commands.EvalCommand.ParseGrid(Environment.GetEnvironmentVariable("SVG2_LOCALITY_GRID") ?? "33x12x16", q.shape[1]);
            output.WriteLine($"{Path.GetFileName(file)}: grid {grid.Frames}x{grid.Height}x{grid.Width}, QC {counts[0]}, KC {counts[1]}, " +
                $"neighbours {Neighbourhood}, {SampledRows} sampled rows");
            output.WriteLine(GeometryTable(q, k, grid, options));
            output.WriteLine(MethodTable(q, k, v, grid, options));
        }
    }

    /// <summary>Per head: the local share of the attention mass, and how far SVG2's clusters and the position blocks reach.</summary>
    static string GeometryTable(Tensor q, Tensor k, TokenGrid grid, Svg2Options options)
    {
        var locality = AttentionLocality.Measure(q, k, grid, Neighbourhood, sampleRows: SampledRows);
        using var state = new Svg2LayerState();
        using var clustering = new Svg2Attention(options).Cluster(q.unsqueeze(0), k.unsqueeze(0), state);
        var (svg2Queries, svg2Keys) = (ClusterSpread.Measure(clustering.Query.Labels, grid), ClusterSpread.Measure(clustering.Key.Labels, grid));
        var (blockQueries, blockKeys) = (BlockSpread(options.QueryClusters, q.shape[0], grid), BlockSpread(options.KeyClusters, q.shape[0], grid));
        Assert.All(locality.LocalShare, share => Assert.InRange(share, 0, 1 + 1e-6));

        var text = new StringBuilder();
        text.AppendLine("| head | local share | key spread svg2 / blocks | key cluster size svg2 / blocks | query spread svg2 / blocks | query cluster size svg2 / blocks |");
        text.AppendLine("|---|---|---|---|---|---|");
        string Row(string head, Func<double[], double> of) => string.Create(CultureInfo.InvariantCulture,
            $"| {head} | {of(locality.LocalShare):P1} | {of(svg2Keys.MeanDistance):0.00} / {of(blockKeys.MeanDistance):0.00} | " +
            $"{of(svg2Keys.MeanClusterSize):0} / {of(blockKeys.MeanClusterSize):0} | {of(svg2Queries.MeanDistance):0.00} / {of(blockQueries.MeanDistance):0.00} | " +
            $"{of(svg2Queries.MeanClusterSize):0} / {of(blockQueries.MeanClusterSize):0} |");
        for (int g = 0; g < q.shape[0]; g++) text.AppendLine(Row(g.ToString(CultureInfo.InvariantCulture), values => values[g]));
        text.AppendLine(Row("mean", values => values.Average()));
        return text.ToString();
    }

    static ClusterSpread BlockSpread(int blocks, long groups, TokenGrid grid)
    {
        using var labels = PositionBlocking.Into(blocks).Labels(grid.Tokens, CPU).unsqueeze(0).expand(groups, -1);
        return ClusterSpread.Measure(labels, grid);
    }

    /// <summary>
    /// Per method and target density (means over heads): the error and recall, the kept share of the local and the far mass,
    /// and the error split into the dropped mass and the gap between the kept and dropped keys' mean values
    /// (<see cref="KeptValueGap"/>; its implied error should match the measured one, the outputs being uncompensated).
    /// </summary>
    static string MethodTable(Tensor q, Tensor k, Tensor v, TokenGrid grid, Svg2Options options)
    {
        var text = new StringBuilder();
        text.AppendLine("| method | target | density | relative error | implied error | recall | dropped mass | value gap | local mass kept | far mass kept |");
        text.AppendLine("|---|---|---|---|---|---|---|---|---|---|");
        foreach (var name in new[] { MethodCatalog.Svg2, MethodCatalog.Blocks })
        foreach (double target in Densities)
        {
            using var prepared = MethodCatalog.Create(name, options, grid, targetDensity: target).Prepare(q, k, v);
            var (measurement, attended) = MethodRunner.Run(name, prepared, 0, q, k, v, new MethodRunner.Budget(TargetDensity: target), SampledRows);
            attended.Dispose();
            var pattern = DensitySearch.Find(prepared, target).Pattern;
            var kept = AttentionLocality.Measure(q, k, grid, Neighbourhood, pattern, SampledRows);
            var gap = KeptValueGap.Measure(q, k, v, pattern, SampledRows);
            (pattern as IDisposable)?.Dispose();
            Assert.All(kept.LocalRecall!, recall => Assert.InRange(recall, 0, 1 + 1e-6));
            // Both outputs renormalise over the kept keys, so dropped mass times value gap must reproduce their error.
            Assert.All(gap.ImpliedError.Zip(measurement.RelativeError), pair => Assert.Equal(pair.Second, pair.First, 1e-3));
            text.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {name} | {target:P0} | {measurement.MeanDensity:P1} | {measurement.RelativeError.Average():0.0000} | {gap.ImpliedError.Average():0.0000} | " +
                $"{measurement.Recall.Average():P1} | {gap.DroppedMass.Average():P1} | {gap.ValueGap.Average():0.0000} | " +
                $"{kept.LocalRecall!.Average():P1} | {kept.FarRecall!.Average():P1} |"));
        }

        return text.ToString();
    }
}
