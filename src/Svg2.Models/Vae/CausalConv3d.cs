using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Svg2.Models.Vae;

/// <summary>
/// A 3D convolution over [B, C, T, H, W] that looks only into the past along time: the input is padded
/// with 2 x padding.T frames in front and none behind (zeros before the video's first frame), and
/// symmetrically in height and width. Parameter names "weight" [out, in, kT, kH, kW] and "bias" [out],
/// as the public <c>CausalConv3d</c> (an nn.Conv3d).
/// </summary>
/// <remarks>
/// Fed chunk by chunk through a <see cref="CausalCache"/>, the convolution prepends the last input
/// frames of the previous chunk instead of zeros, so that any split of a video along time gives the
/// same output as the whole video at once.
/// </remarks>
public sealed class CausalConv3d : nn.Module
{
    readonly long[] _stride;
    readonly long[] _padding;

    /// <summary>Past frames each output frame sees beyond its own window's present (2 x padding.T).</summary>
    public int HistoryFrames { get; }

    /// <summary>The kernel, [out, in, kT, kH, kW].</summary>
    public Parameter Weight { get; }

    /// <summary>The bias, [out].</summary>
    public Parameter Bias { get; }

    /// <summary>Creates the convolution with PyTorch's default initialisation (uniform in ±1/sqrt(fan-in)).</summary>
    /// <param name="inChannels">Input channels.</param>
    /// <param name="outChannels">Output channels.</param>
    /// <param name="kernel">Kernel size over (time, height, width).</param>
    /// <param name="stride">Stride over (time, height, width).</param>
    /// <param name="padding">Padding as the public module is given it: time padding becomes 2 x T past frames.</param>
    /// <param name="device">Where the parameters live.</param>
    /// <param name="dtype">The parameters' type.</param>
    public CausalConv3d(long inChannels, long outChannels, (long T, long H, long W) kernel, (long T, long H, long W) stride,
        (long T, long H, long W) padding, Device? device, ScalarType dtype) : base(nameof(CausalConv3d))
    {
        _stride = [stride.T, stride.H, stride.W];
        _padding = [0, padding.H, padding.W];
        HistoryFrames = (int)(2 * padding.T);
        double bound = 1.0 / Math.Sqrt(inChannels * kernel.T * kernel.H * kernel.W);
        Weight = new Parameter(empty([outChannels, inChannels, kernel.T, kernel.H, kernel.W], dtype, device).uniform_(-bound, bound), requires_grad: false);
        Bias = new Parameter(empty([outChannels], dtype, device).uniform_(-bound, bound), requires_grad: false);
        register_parameter("weight", Weight);
        register_parameter("bias", Bias);
    }

    /// <summary>A cubic kernel of size <paramref name="kernel"/> with stride 1 and padding <paramref name="padding"/> on every axis.</summary>
    public static CausalConv3d Cubic(long inChannels, long outChannels, long kernel, long padding, Device? device, ScalarType dtype) =>
        new(inChannels, outChannels, (kernel, kernel, kernel), (1, 1, 1), (padding, padding, padding), device, dtype);

    /// <summary>The whole sequence at once, with zeros as the past of the first frame.</summary>
    public Tensor Forward(Tensor x)
    {
        if (HistoryFrames == 0) return Convolve(x);
        using var padded = PadFront(x);
        return Convolve(padded);
    }

    /// <summary>
    /// The next chunk of a sequence: the frames kept from the previous chunk (zeros before the first)
    /// come in front, and the last <see cref="HistoryFrames"/> input frames are kept for the next chunk.
    /// </summary>
    public Tensor Forward(Tensor x, CausalCache cache)
    {
        if (HistoryFrames == 0) return Convolve(x);
        var past = cache.Frames(this);
        using var input = past is null ? PadFront(x) : cat([past, x], 2);
        cache.Keep(this, input.narrow(2, input.shape[2] - HistoryFrames, HistoryFrames).clone());
        return Convolve(input);
    }

    Tensor PadFront(Tensor x) => nn.functional.pad(x, [0, 0, 0, 0, HistoryFrames, 0]);

    Tensor Convolve(Tensor input) => VaeConvolution.Conv3d(input, Weight, Bias, _stride, _padding);
}
