using static TorchSharp.torch;

namespace Svg2.Models.Pipelines;

/// <summary>Turns a prompt into the context tokens of the transformer's cross-attention.</summary>
public interface IPromptEncoder
{
    /// <summary>Width of a context token (4096 for umT5-XXL).</summary>
    int ContextDim { get; }

    /// <summary>The prompt's tokens [1, L, ContextDim], float32 on the CPU; L is at most the text length (512 for Wan).</summary>
    Tensor Encode(string prompt);
}
