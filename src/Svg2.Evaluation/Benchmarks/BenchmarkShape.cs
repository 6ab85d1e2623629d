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
    /// <summary>The shapes of the reference configurations.</summary>
    public static readonly IReadOnlyList<BenchmarkShape> Presets =
    [
        new("wan-14b-720p", "Wan 2.1 14B, 720p, 81 frames", 40, 75_600, 128, 300, 1000),
        new("wan-1.3b-480p", "Wan 2.1 1.3B, 480p (832x480), 81 frames", 12, 32_760, 128, 200, 1000),
        new("hunyuan-720p", "HunyuanVideo 720p, 129 frames, 118,800 video rows + 256 text rows (96 prompt, 160 padding) as two extra blocks",
            24, 119_056, 128, 400, 1000, TextRows: 256, PromptRows: 96),
    ];

    /// <summary>The text rows of the call, or null when it has none.</summary>
    public TextTokens? Text => TextRows > 0 ? new TextTokens(TextRows, PromptRows) : null;

    /// <summary>Video rows: S minus the text rows.</summary>
    public int VideoTokens => Tokens - TextRows;

    /// <summary>
    /// The preset with this name, or else the workload shape of that name (<see cref="VideoShape.Named"/>)
    /// with the default options' cluster counts scaled to its length; an exception lists both sets of names.
    /// </summary>
    public static BenchmarkShape Find(string name)
    {
        var preset = Presets.FirstOrDefault(p => p.Name.Equals(name, StringComparison.OrdinalIgnoreCase));
        if (preset is not null) return preset;
        if (!VideoShape.Named.TryGetValue(name, out var workload))
            throw new ArgumentException($"Unknown shape '{name}'; presets: {string.Join(", ", Presets.Select(p => p.Name))}; workload shapes: {string.Join(", ", VideoShape.Named.Keys)}.");
        if (workload.Batch != 1) throw new ArgumentException($"Shape '{name}' has batch {workload.Batch}; the CUDA benchmark times batch 1.");
        int videoTokens = workload.Frames * workload.Height * workload.Width;
        var (queryClusters, keyClusters) = new Svg2Options().ClusterCountsFor(videoTokens);
        return new BenchmarkShape(name.ToLowerInvariant(), $"workload shape {name}: {workload.Frames}x{workload.Height}x{workload.Width} tokens, {workload.Heads} heads",
            workload.Heads, videoTokens + workload.TextTokens, workload.HeadDim, queryClusters, keyClusters, workload.TextTokens, workload.PromptLength);
    }
}
