using Svg2.Algorithm;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Methods;

/// <summary>
/// An attention method compared in benchmarks and sweeps: SVG2, its baselines, or dense attention.
/// A method first prepares what does not depend on its budget (clustering, block means), then
/// plans the sparsity for a budget parameter (cheap, so a density search can try many), then attends.
/// </summary>
public interface IAttentionMethod
{
    /// <summary>Name used on the command line and in reports.</summary>
    string Name { get; }

    /// <summary>Prepares the method for inputs [G, S, D] (G = batch x heads).</summary>
    IPreparedAttention Prepare(Tensor q, Tensor k, Tensor v);
}

/// <summary>A method prepared for one set of inputs.</summary>
public interface IPreparedAttention : IDisposable
{
    /// <summary>What the budget parameter is (top_p, window extent, kept fraction), or null when the method has none.</summary>
    string? ParameterName { get; }

    /// <summary>The parameter's range; density grows with the parameter.</summary>
    (double Min, double Max) ParameterRange { get; }

    /// <summary>The sparsity pattern at a parameter value.</summary>
    ISparsityPattern Plan(double parameter);

    /// <summary>The attention output [G, S, D] under a pattern from <see cref="Plan"/>.</summary>
    Tensor Attend(ISparsityPattern pattern);
}
