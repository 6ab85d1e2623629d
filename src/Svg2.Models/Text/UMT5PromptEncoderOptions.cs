using static TorchSharp.torch;

namespace Svg2.Models.Text;

/// <summary>How <see cref="UMT5PromptEncoder.Load"/> builds the encoder.</summary>
public sealed record UMT5PromptEncoderOptions
{
    /// <summary>Where the weights live and prompts are encoded; null: the GPU when there is one, else the CPU (Wan's --t5_cpu).</summary>
    public Device? Device { get; init; }

    /// <summary>The weights' dtype: bf16 as Wan runs umT5 (11 GB for XXL); float32 doubles that.</summary>
    public ScalarType WeightType { get; init; } = ScalarType.BFloat16;

    /// <summary>The encoder's size; null: what the checkpoint's shapes describe (see <see cref="UMT5Checkpoint.InferConfig"/>).</summary>
    public UMT5Config? Config { get; init; }

    /// <summary>Ids per prompt, the end-of-sentence token included (Wan: 512).</summary>
    public int TextLength { get; init; } = WanPromptDefaults.TextLength;

    /// <summary>
    /// True (Wan's way): encode the padded ids with the attention mask and keep the prompt's positions.
    /// False: encode only the prompt's own tokens, which gives the same values up to float rounding
    /// (padded keys take exactly zero attention) for a fraction of the work; worth it on a CPU.
    /// </summary>
    public bool PadToTextLength { get; init; } = true;
}
