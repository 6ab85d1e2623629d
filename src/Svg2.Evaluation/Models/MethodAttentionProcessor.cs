using Svg2.Algorithm;
using Svg2.Configuration;
using Svg2.Evaluation.Methods;
using Svg2.Models.Attention;
using static TorchSharp.torch;

namespace Svg2.Evaluation.Models;

/// <summary>
/// Self-attention by one of the compared methods (position blocks, the local window, the token oracle)
/// driven to a target density, with the same dense warm-up policy as SVG2, so that a generated video
/// compares methods at equal density and equal warm-up. As SVG2 does with a target density, each layer's
/// first sparse call searches the budget parameter that reaches it and later calls keep that parameter.
/// </summary>
public sealed class MethodAttentionProcessor : ISelfAttentionProcessor
{
    readonly Func<AttentionCall, IAttentionMethod> _methodFor;
    readonly ISelfAttentionProcessor _dense;
    readonly Dictionary<int, double> _parameterOfLayer = [];

    /// <summary>Creates the processor.</summary>
    /// <param name="methodFor">The method for a call (the window method needs the call's token grid).</param>
    /// <param name="targetDensity">The density every sparse call is driven to, in (0, 1].</param>
    /// <param name="policy">Which calls run dense.</param>
    /// <param name="dense">Dense attention for warm-up calls; SDPA when null.</param>
    public MethodAttentionProcessor(Func<AttentionCall, IAttentionMethod> methodFor, double targetDensity, DenseWarmupPolicy policy,
        ISelfAttentionProcessor? dense = null)
    {
        if (!(targetDensity > 0 && targetDensity <= 1)) throw new ArgumentException($"Target density must lie in (0, 1]; got {targetDensity}.");
        _methodFor = methodFor;
        TargetDensity = targetDensity;
        Policy = policy;
        _dense = dense ?? DenseAttentionProcessor.Instance;
    }

    /// <summary>The density every sparse call is driven to.</summary>
    public double TargetDensity { get; }

    /// <summary>The warm-up policy.</summary>
    public DenseWarmupPolicy Policy { get; }

    /// <summary>Receives every call's densities when set.</summary>
    public AttentionDensityMeter? Meter { get; set; }

    /// <inheritdoc />
    public Tensor Process(AttentionCall call)
    {
        long batch = call.Query.shape[0], heads = call.Query.shape[1];
        if (Policy.IsDense(call.Step, call.Layer))
        {
            Meter?.AddDense(batch * heads);
            return _dense.Process(call);
        }
        using var scope = NewDisposeScope();
        long tokens = call.Query.shape[2], headDim = call.Query.shape[3];
        Tensor Groups(Tensor t) => t.reshape(batch * heads, tokens, headDim);
        using var prepared = _methodFor(call).Prepare(Groups(call.Query), Groups(call.Key), Groups(call.Value));
        ISparsityPattern pattern;
        if (_parameterOfLayer.TryGetValue(call.Layer, out double parameter)) pattern = prepared.Plan(parameter);
        else
        {
            var found = DensitySearch.Find(prepared, TargetDensity);
            _parameterOfLayer[call.Layer] = found.Parameter;
            pattern = found.Pattern;
        }
        try
        {
            if (Meter is not null) Meter.AddSparse(pattern.Density());
            return prepared.Attend(pattern).reshape(batch, heads, tokens, headDim).to(call.Query.dtype).MoveToOuterDisposeScope();
        }
        finally
        {
            (pattern as IDisposable)?.Dispose();
        }
    }
}
