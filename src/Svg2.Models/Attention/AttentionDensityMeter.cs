using static TorchSharp.torch;

namespace Svg2.Models.Attention;

/// <summary>
/// The attention density of a stretch of work (one denoising step, say): sparse calls add their per-head
/// densities, kept on the device until <see cref="Take"/> reads them once; dense calls count as density 1.
/// </summary>
public sealed class AttentionDensityMeter : IDisposable
{
    Tensor? _sparseSum;
    long _sparseHeads;
    long _denseHeads;

    /// <summary>Adds a sparse call's density per head ([B, H] or [G], any float type, any device).</summary>
    public void AddSparse(Tensor densityPerHead)
    {
        using var sum = densityPerHead.to(ScalarType.Float64).sum();
        if (_sparseSum is null) _sparseSum = sum.clone().DetachFromDisposeScope();
        else _sparseSum.add_(sum);
        _sparseHeads += densityPerHead.numel();
    }

    /// <summary>Adds a dense call over <paramref name="heads"/> heads (batch times heads).</summary>
    public void AddDense(long heads) => _denseHeads += heads;

    /// <summary>Reads what was added since the last call (a host synchronisation) and starts over.</summary>
    public StepDensity Take()
    {
        double sparseSum = _sparseSum?.item<double>() ?? 0;
        var result = new StepDensity(
            _sparseHeads > 0 ? sparseSum / _sparseHeads : null,
            _sparseHeads + _denseHeads > 0 ? (sparseSum + _denseHeads) / (_sparseHeads + _denseHeads) : null,
            _sparseHeads, _denseHeads);
        _sparseSum?.Dispose();
        _sparseSum = null;
        _sparseHeads = _denseHeads = 0;
        return result;
    }

    /// <summary>Feeds this meter from an SVG2 processor's observer (replacing any observer it had).</summary>
    public void Observe(Svg2AttentionProcessor processor) =>
        processor.Observer = (call, mode, results) =>
        {
            if (mode == AttentionMode.Sparse)
                foreach (var result in results) AddSparse(result.Density);
            else AddDense(call.Query.shape[0] * call.Query.shape[1]);
        };

    /// <inheritdoc/>
    public void Dispose()
    {
        _sparseSum?.Dispose();
        _sparseSum = null;
    }
}

/// <summary>The density of a stretch of attention calls.</summary>
/// <param name="Sparse">Mean density of the sparse calls' heads; null when every call was dense.</param>
/// <param name="Overall">Mean over every call's heads, dense calls counting 1; null when no call ran.</param>
/// <param name="SparseHeads">Heads (batch x heads x calls) that ran sparse.</param>
/// <param name="DenseHeads">Heads that ran dense.</param>
public readonly record struct StepDensity(double? Sparse, double? Overall, long SparseHeads, long DenseHeads);
