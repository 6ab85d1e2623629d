namespace Svg2.Configuration;

/// <summary>
/// One of the reference implementation's run configurations: the model's attention geometry, the
/// SVG2 options, the dense warm-up and the sampling schedule.
/// </summary>
/// <param name="Name">Preset name used on the command line.</param>
/// <param name="Description">Model, task and resolution.</param>
/// <param name="Heads">Attention heads H.</param>
/// <param name="HeadDim">Head dimension D.</param>
/// <param name="LatentFrames">Latent frames after the VAE.</param>
/// <param name="TokensHigh">Tokens per frame vertically (pixel height / 16).</param>
/// <param name="TokensWide">Tokens per frame horizontally (pixel width / 16).</param>
/// <param name="TextTokens">Text rows inside the sparse call (HunyuanVideo: 256, prompt plus padding).</param>
/// <param name="Layers">Transformer blocks whose self-attention SVG2 replaces.</param>
/// <param name="Steps">Denoising steps.</param>
/// <param name="Options">SVG2 operator options.</param>
/// <param name="Warmup">Dense warm-up policy.</param>
/// <param name="GuidancePasses">Transformer passes per step: 2 for classifier-free guidance, 1 when guidance is embedded.</param>
/// <param name="GuidanceScale">Guidance scale.</param>
public sealed record Svg2Preset(
    string Name,
    string Description,
    int Heads,
    int HeadDim,
    int LatentFrames,
    int TokensHigh,
    int TokensWide,
    int TextTokens,
    int Layers,
    int Steps,
    Svg2Options Options,
    DenseWarmupPolicy Warmup,
    int GuidancePasses,
    double GuidanceScale)
{
    /// <summary>Video tokens: frames x height x width.</summary>
    public int VideoTokens => LatentFrames * TokensHigh * TokensWide;

    /// <summary>Rows of the sparse attention call: video tokens plus text rows.</summary>
    public int SequenceLength => VideoTokens + TextTokens;
}
