namespace Svg2.Configuration;

/// <summary>
/// The attention geometry of one video model at one resolution, with the cluster counts the reference
/// runs it with: the one source the presets, the workload shapes and the benchmark shapes derive from.
/// </summary>
/// <param name="Name">Name on the command line (workload and benchmark shapes).</param>
/// <param name="Description">Model, task, resolution and frame count.</param>
/// <param name="Heads">Attention heads H.</param>
/// <param name="HeadDim">Head dimension D.</param>
/// <param name="Layers">Transformer blocks whose self-attention SVG2 replaces.</param>
/// <param name="LatentFrames">Latent frames after the VAE.</param>
/// <param name="TokensHigh">Tokens per frame vertically, after patchify.</param>
/// <param name="TokensWide">Tokens per frame horizontally, after patchify.</param>
/// <param name="TextTokens">Text rows inside the sparse call (HunyuanVideo: 256, prompt plus padding).</param>
/// <param name="QueryClusters">The reference's query clusters QC at this model and resolution.</param>
/// <param name="KeyClusters">The reference's key clusters KC.</param>
public sealed record ModelGeometry(
    string Name,
    string Description,
    int Heads,
    int HeadDim,
    int Layers,
    int LatentFrames,
    int TokensHigh,
    int TokensWide,
    int TextTokens,
    int QueryClusters,
    int KeyClusters)
{
    /// <summary>Video tokens: frames x height x width.</summary>
    public int VideoTokens => LatentFrames * TokensHigh * TokensWide;

    /// <summary>Rows of the sparse attention call: video tokens plus text rows.</summary>
    public int SequenceLength => VideoTokens + TextTokens;
}
