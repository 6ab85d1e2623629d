using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Wan;

/// <summary>
/// The initial weights of a Wan model trained from scratch, as the public code's init_weights sets them:
/// Xavier-uniform weights and zero biases in every linear layer, Xavier-uniform patch embedding (over its
/// flattened kernel), normal(0, 0.02) weights in the text and time embeddings, and a zero output head, so
/// an untrained model predicts zero flow. What init_weights leaves to construction is drawn here too, from
/// the same generator, so that a seed fixes every weight: the modulation tables (normal / sqrt(dim), as
/// the model builds them), the patch embedding's bias (the convolution default, uniform within
/// 1/sqrt(fan-in)), unit norm scales and zero norm biases.
/// </summary>
public static class WanInitialisation
{
    const double EmbeddingStd = 0.02;

    /// <summary>Overwrites the model's weights, drawing from <paramref name="generator"/> (a CPU generator, so that a seed gives the same model on every device).</summary>
    public static void Apply(WanModel model, Generator generator)
    {
        using var noGrad = no_grad();
        foreach (var linear in model.modules().OfType<Linear>())
        {
            Assign(linear.weight!, XavierUniform(linear.weight!.shape[1], linear.weight.shape[0], linear.weight.shape, generator));
            linear.bias?.zero_();
        }
        var patch = model.PatchEmbedding.weight!;
        long patchFanIn = patch.shape.Skip(1).Aggregate(1L, (a, b) => a * b);
        Assign(patch, XavierUniform(patchFanIn, patch.shape[0], patch.shape, generator));
        double biasBound = 1 / Math.Sqrt(patchFanIn);
        Assign(model.PatchEmbedding.bias!, rand(model.PatchEmbedding.bias!.shape, generator: generator) * (2 * biasBound) - biasBound);
        foreach (var (_, parameter) in model.named_parameters().Where(p => p.name.EndsWith("modulation")))
            Assign(parameter, randn(parameter.shape, generator: generator) / Math.Sqrt(model.Config.Dim));
        foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("norm")))
        {
            if (name.EndsWith(".weight")) parameter.fill_(1);
            else parameter.zero_();
        }
        foreach (var linear in new[] { model.TextEmbedding.First, model.TextEmbedding.Second, model.TimeEmbedding.First, model.TimeEmbedding.Second })
            Assign(linear.weight!, normal(0, EmbeddingStd, linear.weight!.shape, generator: generator));
        model.Head.Linear.weight!.zero_();
    }

    static Tensor XavierUniform(long fanIn, long fanOut, long[] shape, Generator generator)
    {
        double bound = Math.Sqrt(6.0 / (fanIn + fanOut));
        return rand(shape, generator: generator) * (2 * bound) - bound;
    }

    static void Assign(Tensor target, Tensor value)
    {
        using (value) target.copy_(value);
    }
}
