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
            "head dimension 64 or 128, svg2 and dense; Hopper kernels on CUDA, the exact emulation on the CPU)",
        DefaultValueFactory = _ => "bf16",
    };

    /// <summary>--fp8-keys: the granularity of K's FP8 scales (Q always has one per token).</summary>
    public Option<string> KeyScales { get; } = new("--fp8-keys")
    {
        Description = "with --precision fp8, K's scales: token (default: one per key) or head (one per head, folded into each row's " +
            "factor: an 11-13% faster kernel for 5-10% more attention error and 4.6 dB less end to end on the small model; docs/quality.md)",
        DefaultValueFactory = _ => "token",
    };

    /// <summary>--fp8-queries: Q smoothing (<see cref="Fp8AttentionSettings.SmoothQueries"/>).</summary>
    public Option<string> Queries { get; } = new("--fp8-queries")
    {
        Description = "with --precision fp8, Q before quantisation: plain (default) or smooth (each head's mean query subtracted, " +
            "its part of the logits added back in float32 per key; less error on sharp heads such as text attention, about 8% slower " +
            "kernel; docs/quality.md)",
        DefaultValueFactory = _ => "plain",
    };

    public PrecisionOption()
    {
        Option.AcceptOnlyFromAmong("bf16", "fp8");
        KeyScales.AcceptOnlyFromAmong("head", "token");
        Queries.AcceptOnlyFromAmong("plain", "smooth");
    }

    /// <summary>The options, for a command to add.</summary>
    public IReadOnlyList<Option> Options => [Option, KeyScales, Queries];

    public bool IsFp8(ParseResult result) => result.GetValue(Option) == "fp8";

    /// <summary><paramref name="options"/> with the precision and the FP8 key scales the command line gives.</summary>
    public Svg2Options ApplyTo(ParseResult result, Svg2Options options) => options with
    {
        Precision = IsFp8(result) ? AttentionPrecision.Fp8 : AttentionPrecision.BFloat16,
        Fp8 = options.Fp8 with
        {
            Scales = result.GetValue(KeyScales) == "head" ? Fp8ScaleGranularity.PerTokenQueriesPerHeadKeys : Fp8ScaleGranularity.PerToken,
            SmoothQueries = result.GetValue(Queries) == "smooth",
        },
    };

    /// <summary>
    /// Refuses FP8 on a CUDA device that cannot run it before anything is loaded: a GPU without FP8 tensor cores, or
    /// one whose kernels are not the Hopper family (the FP8 attention kernels use Hopper's e4m3 warpgroup products).
    /// </summary>
    public void RequireDevice(ParseResult result, Device device)
    {
        if (!IsFp8(result) || device.type != DeviceType.CUDA || !CudaDevice.IsAvailable(out _)) return;
        var gpu = CudaDevice.Get(Math.Max(0, (int)device.index));
        var (major, minor) = gpu.ComputeCapability;
        Fp8Support.RequireTensorCores(major, minor);
        if (KernelFamilyChoice.For(gpu.Architecture, Environment.GetEnvironmentVariable(KernelFamilyChoice.Setting)) != KernelFamily.Hopper)
            throw new NotSupportedException($"The FP8 attention kernels use Hopper's e4m3 warpgroup products (sm_90a); {gpu.Name} ({gpu.Architecture}) " +
                "runs the portable kernels. Use bf16 precision on this GPU, or --device cpu for the exact FP8 emulation.");
    }
}
