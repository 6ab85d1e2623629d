using Svg2.Attention;
using Svg2.Configuration;
using Svg2.Evaluation.Workloads;

namespace Svg2.Evaluation.Benchmarks;

/// <summary>An attention call to time: B = 1, H heads of S tokens, head dim D, QC/KC clusters.</summary>
/// <param name="Name">Preset name for the command line.</param>
/// <param name="Description">What model and resolution it stands for.</param>
/// <param name="Heads">H.</param>
/// <param name="Tokens">S, text rows included.</param>
/// <param name="HeadDim">D.</param>
/// <param name="QueryClusters">QC, video query clusters.</param>
/// <param name="KeyClusters">KC, video key clusters.</param>
/// <param name="TextRows">Text rows after the video rows (outside clustering and top-p), 0 for none.</param>
/// <param name="PromptRows">Real prompt rows among the text rows; the rest is padding.</param>
public sealed record BenchmarkShape(string Name, string Description, int Heads, int Tokens, int HeadDim, int QueryClusters, int KeyClusters,
    int TextRows = 0, int PromptRows = 0)
{
    /// <summary>The shapes timed by default: Wan 2.1 14B at 720p, Wan 2.1 1.3B at 480p and HunyuanVideo at 720p.</summary>
    public static readonly IReadOnlyList<BenchmarkShape> Presets =
        [Of(ModelGeometries.Wan14B720p), Of(ModelGeometries.Wan1_3B480p), Of(ModelGeometries.Hunyuan720p)];

    /// <summary>The call of a model geometry: its workload (<see cref="VideoShape.Of"/>) with the reference's cluster counts.</summary>
    public static BenchmarkShape Of(ModelGeometry geometry)
    {
        var workload = VideoShape.Of(geometry);
        string text = workload.TextTokens == 0 ? ""
            : $", {workload.VideoTokens:N0} video rows + {workload.TextTokens} text rows ({workload.PromptLength} prompt, {workload.TextTokens - workload.PromptLength} padding) as two extra blocks";
        return new BenchmarkShape(geometry.Name, geometry.Description + text, workload.Heads, workload.SequenceLength, workload.HeadDim,
            geometry.QueryClusters, geometry.KeyClusters, workload.TextTokens, workload.PromptLength);
    }

    /// <summary>The text rows of the call, or null when it has none.</summary>
    public TextTokens? Text => TextRows > 0 ? new TextTokens(TextRows, PromptRows) : null;

    /// <summary>Video rows: S minus the text rows.</summary>
    public int VideoTokens => Tokens - TextRows;

    /// <summary>
    /// The shape of the model geometry with this name (<see cref="ModelGeometries"/>), or else the workload
    /// shape of that name (<see cref="VideoShape.Named"/>) with the default options' cluster counts scaled
    /// to its length; an exception lists both sets of names.
    /// </summary>
    public static BenchmarkShape Find(string name)
    {
        if (ModelGeometries.Find(name) is { } geometry) return Presets.FirstOrDefault(p => p.Name == geometry.Name) ?? Of(geometry);
        if (!VideoShape.Named.TryGetValue(name, out var workload))
            throw new ArgumentException($"Unknown shape '{name}'; presets: {string.Join(", ", Presets.Select(p => p.Name))}; workload shapes: {string.Join(", ", VideoShape.Named.Keys)}.");
        if (workload.Batch != 1) throw new ArgumentException($"Shape '{name}' has batch {workload.Batch}; the CUDA benchmark times batch 1.");
        int videoTokens = workload.Frames * workload.Height * workload.Width;
        var (queryClusters, keyClusters) = new Svg2Options().ClusterCountsFor(videoTokens);
        return new BenchmarkShape(name.ToLowerInvariant(), $"workload shape {name}: {workload.Frames}x{workload.Height}x{workload.Width} tokens, {workload.Heads} heads",
            workload.Heads, videoTokens + workload.TextTokens, workload.HeadDim, queryClusters, keyClusters, workload.TextTokens, workload.PromptLength);
    }
}
