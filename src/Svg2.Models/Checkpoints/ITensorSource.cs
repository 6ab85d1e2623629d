using static TorchSharp.torch;

namespace Svg2.Models.Checkpoints;

/// <summary>
/// Named tensors stored on disk (safetensors files, sharded safetensors, PyTorch .pth files), read one at
/// a time so that a model's weights never sit in host memory twice.
/// </summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Every tensor name in the source.</summary>
    IReadOnlyCollection<string> Names { get; }

    /// <summary>True when the source holds a tensor of that name.</summary>
    bool Contains(string name);

    /// <summary>The stored type and shape of a tensor, without reading its data.</summary>
    /// <exception cref="CheckpointException">No tensor of that name.</exception>
    TensorEntry Describe(string name);

    /// <summary>Reads one tensor into a new CPU tensor of its stored type (the caller disposes it).</summary>
    /// <exception cref="CheckpointException">No tensor of that name, or its data is unreadable.</exception>
    Tensor Read(string name);
}
