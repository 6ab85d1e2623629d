using static TorchSharp.torch;

namespace Svg2.Models.Kernels;

/// <summary>
/// The memory-bound steps of a Wan block in <see cref="Wan.WanNumerics.Fast"/> numerics, each one pass
/// over the activations: float32 arithmetic inside, one rounding to the activations' dtype at the end.
/// The portable implementation is <see cref="TorchWanBlockKernels"/>; <see cref="CudaWanBlockKernels"/>
/// runs them as fused kernels and is checked against it.
/// </summary>
public interface IWanBlockKernels
{
    /// <summary>A short name for reports.</summary>
    string Name { get; }

    /// <summary>Whether these kernels can run on activations like <paramref name="x"/>; when not, <paramref name="reason"/> says why.</summary>
    bool Supports(Tensor x, out string? reason);

    /// <summary>
    /// Layer normalisation over the last dimension (biased variance), then the optional affine
    /// <paramref name="weight"/> and <paramref name="bias"/>, then the optional modulation
    /// <c>* (1 + scale) + shift</c> per batch element; returned in x's dtype.
    /// </summary>
    /// <param name="x">[B, S, W].</param>
    /// <param name="weight">[W] or null.</param>
    /// <param name="bias">[W] or null.</param>
    /// <param name="shift">[B, W] float32 or null (with <paramref name="scale"/>).</param>
    /// <param name="scale">[B, W] float32 or null (with <paramref name="shift"/>).</param>
    /// <param name="eps">Added to the variance.</param>
    Tensor ModulatedLayerNorm(Tensor x, Tensor? weight, Tensor? bias, Tensor? shift, Tensor? scale, double eps);

    /// <summary><c>x += y * gate</c> in place, per batch element (gate 1 when null).</summary>
    /// <param name="x">[B, S, W], the residual stream, updated in place.</param>
    /// <param name="y">[B, S, W] in x's dtype.</param>
    /// <param name="gate">[B, W] float32 or null.</param>
    void GatedResidualAdd(Tensor x, Tensor y, Tensor? gate);

    /// <summary>
    /// RMS normalisation across the full width (all heads together) with a learned scale, then the
    /// rotary embedding when <paramref name="cos"/> and <paramref name="sin"/> are given, split into
    /// heads: [B, S, H x D] to a contiguous [B, H, S, D] in x's dtype.
    /// </summary>
    /// <param name="x">[B, S, W], W = heads x D.</param>
    /// <param name="weight">[W].</param>
    /// <param name="heads">H.</param>
    /// <param name="cos">[S, D/2] float32 cosines of the rotation angles, or null.</param>
    /// <param name="sin">[S, D/2] float32 sines, or null.</param>
    /// <param name="eps">Added to the mean square.</param>
    Tensor RmsNormToHeads(Tensor x, Tensor weight, int heads, Tensor? cos, Tensor? sin, double eps);
}
