using System.CommandLine;
using Svg2.Attention.Fp8;
using Svg2.Configuration;
using Svg2.Cuda.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>--precision: the attention's numerics (<see cref="Svg2Options.Precision"/>), shared by the commands that attend.</summary>
internal sealed class PrecisionOption
{
    public Option<string> Option { get; } = new("--precision")
    {
        Description = "attention numerics: bf16 (default: the inputs' dtype, float32 softmax) or fp8 (e4m3 Q, K, P and V with float32 scales and accumulation; " +
            "head dimension 64 or 128, svg2 and dense; the exact emulation on the CPU, no CUDA kernel yet)",
        DefaultValueFactory = _ => "bf16",
    };

    public PrecisionOption()
    {
        Option.AcceptOnlyFromAmong("bf16", "fp8");
    }

    public bool IsFp8(ParseResult result) => result.GetValue(Option) == "fp8";

    /// <summary><paramref name="options"/> with the precision the command line gives.</summary>
    public Svg2Options ApplyTo(ParseResult result, Svg2Options options) =>
        options with { Precision = IsFp8(result) ? AttentionPrecision.Fp8 : AttentionPrecision.BFloat16 };

    /// <summary>
    /// Refuses FP8 on a CUDA device before anything is loaded: for a GPU without FP8 tensor cores, that reason;
    /// otherwise that the FP8 kernels are not there yet.
    /// </summary>
    public void RequireDevice(ParseResult result, Device device)
    {
        if (!IsFp8(result) || device.type != DeviceType.CUDA) return;
        if (CudaDevice.IsAvailable(out _))
        {
            var (major, minor) = CudaDevice.Get(Math.Max(0, (int)device.index)).ComputeCapability;
            Fp8Support.RequireTensorCores(major, minor);
        }
        throw Fp8Support.NoKernels("cuda");
    }
}
