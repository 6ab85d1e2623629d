using Svg2.IO;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>
/// Keeps a generation's tensors for <c>svg2 generate --save-tensors</c>: the initial noise, the latents after every
/// step and the decoded video, all float32 on the CPU, written as one safetensors file (noise, latents.{step},
/// latents, video) for comparisons with another implementation.
/// </summary>
internal sealed class GenerationTensors : IDisposable
{
    readonly List<KeyValuePair<string, Tensor>> _tensors = [];

    /// <summary>Keeps a copy of the initial noise.</summary>
    public void Noise(Tensor noise) => Keep("noise", noise);

    /// <summary>Keeps a copy of a step's latents (a pipeline step observer).</summary>
    public void Step(int step, Tensor latents) => Keep($"latents.{step}", latents);

    /// <summary>Writes everything kept, the last step's latents again as <c>latents</c>, and <paramref name="video"/>.</summary>
    public void Write(string path, Tensor video)
    {
        var last = _tensors.Last(t => t.Key.StartsWith("latents.", StringComparison.Ordinal)).Value;
        SafeTensorsWriter.Write(path, [.. _tensors, new("latents", last), new("video", video)]);
    }

    // Observers run inside the sampler's per-step dispose scope: the copy must outlive it.
    void Keep(string name, Tensor tensor) => _tensors.Add(new(name, tensor.to(ScalarType.Float32, CPU, copy: true).DetachFromDisposeScope()));

    public void Dispose()
    {
        foreach (var (_, tensor) in _tensors) tensor.Dispose();
    }
}
