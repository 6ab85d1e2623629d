using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Models.Training;

/// <summary>
/// One contiguous tensor behind every parameter of a model: each parameter becomes a view of it, in the
/// model's parameter order, and so can each gradient. Whole-model work (the optimiser, the gradient norm,
/// the moving average, copies between precisions) is then a few operations on the buffer instead of a few
/// per parameter tensor: with a few hundred of them, those launches made the optimiser a fifth of a
/// training step on an H100.
/// </summary>
/// <remarks>
/// The parameters keep their identity (same objects, leaves that require gradients); only their storage
/// moves. Gradients accumulate into the gradient views in place (autograd adds into a gradient that exists),
/// so they must be zeroed between steps (<see cref="ZeroGradients"/>) instead of being set to null.
/// </remarks>
public sealed class ParameterBuffer : IDisposable
{
    readonly (string Name, long Offset, long[] Shape)[] _layout;
    readonly Tensor? _gradients;

    ParameterBuffer(Tensor values, Tensor? gradients, (string, long, long[])[] layout)
    {
        Values = values;
        _gradients = gradients;
        _layout = layout;
    }

    /// <summary>
    /// Moves every parameter of <paramref name="module"/> into one buffer (their values are kept), and with
    /// <paramref name="gradients"/> gives every parameter a zero gradient that is a view of a second buffer.
    /// </summary>
    /// <exception cref="ArgumentException">The module has no parameters, or they differ in dtype or device.</exception>
    public static ParameterBuffer Flatten(nn.Module module, bool gradients)
    {
        var parameters = module.named_parameters().ToList();
        if (parameters.Count == 0) throw new ArgumentException("The module has no parameters to put in a buffer.", nameof(module));
        var (dtype, device) = (parameters[0].parameter.dtype, parameters[0].parameter.device);
        if (parameters.FirstOrDefault(p => p.parameter.dtype != dtype || p.parameter.device.ToString() != device.ToString()) is { name: not null } odd)
            throw new ArgumentException($"One buffer needs one dtype and device: '{parameters[0].name}' is {dtype} on {device}, " +
                $"'{odd.name}' is {odd.parameter.dtype} on {odd.parameter.device}.", nameof(module));
        var layout = new (string, long, long[])[parameters.Count];
        long total = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            layout[i] = (parameters[i].name, total, parameters[i].parameter.shape);
            total += parameters[i].parameter.numel();
        }
        var values = empty(total, dtype, device).DetachFromDisposeScope();
        var gradientBuffer = gradients ? zeros(total, dtype, device).DetachFromDisposeScope() : null;
        using (no_grad())
        {
            for (int i = 0; i < parameters.Count; i++)
            {
                var parameter = parameters[i].parameter;
                using var view = View(values, layout[i].Item2, layout[i].Item3);
                view.copy_(parameter);
                parameter.set_(view);
                if (gradientBuffer is not null) parameter.grad = View(gradientBuffer, layout[i].Item2, layout[i].Item3);
            }
        }
        return new ParameterBuffer(values, gradientBuffer, layout);
    }

    /// <summary>[P] every parameter's values, in parameter order.</summary>
    public Tensor Values { get; }

    /// <summary>[P] every parameter's gradient, in parameter order.</summary>
    /// <exception cref="InvalidOperationException">The buffer was made without gradients.</exception>
    public Tensor Gradients => _gradients ?? throw new InvalidOperationException("This parameter buffer was made without gradients.");

    /// <summary>The parameters' names, in order.</summary>
    public IEnumerable<string> Names => _layout.Select(entry => entry.Name);

    /// <summary>Views of <paramref name="buffer"/> (laid out as <see cref="Values"/>) shaped as each parameter, with the parameter's name.</summary>
    public IEnumerable<(string Name, Tensor View)> Split(Tensor buffer)
    {
        if (buffer.numel() != Values.numel())
            throw new ArgumentException($"A buffer of {buffer.numel()} elements does not hold these {Values.numel()} parameter elements.", nameof(buffer));
        return _layout.Select(entry => (entry.Name, View(buffer, entry.Offset, entry.Shape)));
    }

    /// <summary>Zeroes every gradient (the views stay in place).</summary>
    public void ZeroGradients() => Gradients.zero_();

    static Tensor View(Tensor buffer, long offset, long[] shape) => buffer.narrow(0, offset, shape.Aggregate(1L, (a, b) => a * b)).view(shape);

    /// <inheritdoc/>
    public void Dispose()
    {
        Values.Dispose();
        _gradients?.Dispose();
    }
}
