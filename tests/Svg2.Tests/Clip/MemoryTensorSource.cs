using Svg2.Models.Checkpoints;
using static TorchSharp.torch;

namespace Svg2.Tests.Clip;

/// <summary>Named tensors in memory as a tensor source, recording which names were read.</summary>
sealed class MemoryTensorSource(IReadOnlyDictionary<string, Tensor> tensors) : ITensorSource
{
    public List<string> Reads { get; } = [];

    public IReadOnlyCollection<string> Names => tensors.Keys.ToList();

    public bool Contains(string name) => tensors.ContainsKey(name);

    public TensorEntry Describe(string name) => tensors.TryGetValue(name, out var t)
        ? new TensorEntry(name, t.dtype, t.shape, "memory")
        : throw new CheckpointException($"no tensor '{name}'");

    public Tensor Read(string name)
    {
        Reads.Add(name);
        return Describe(name) is { } ? tensors[name].clone() : throw new InvalidOperationException();
    }

    public void Dispose() { }
}
