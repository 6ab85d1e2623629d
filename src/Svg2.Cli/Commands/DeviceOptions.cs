using System.CommandLine;
using Spectre.Console;
using Svg2.Backends;
using Svg2.Cuda;
using TorchSharp;
using static TorchSharp.torch;

namespace Svg2.Cli.Commands;

/// <summary>--device and --dtype, and the checks that a CUDA request can be served.</summary>
internal sealed class DeviceOptions
{
    public Option<string> Device { get; } = new("--device")
    {
        Description = "cpu or cuda (cuda needs a build against a CUDA libtorch: -p:LibTorch=external)",
        DefaultValueFactory = _ => "cpu",
    };

    public Option<string?> DType { get; } = new("--dtype")
    {
        Description = "f32, bf16 or f16 (default: f32 on the CPU, bf16 on CUDA; eval keeps the file's dtype)",
    };

    public DeviceOptions()
    {
        Device.AcceptOnlyFromAmong("cpu", "cuda");
        DType.AcceptOnlyFromAmong("f32", "bf16", "f16");
    }

    public void AddTo(Command command)
    {
        command.Options.Add(Device);
        command.Options.Add(DType);
    }

    public Device ResolveDevice(ParseResult result)
    {
        if (result.GetValue(Device) != "cuda") return CPU;
        if (!cuda.is_available())
            throw new NotSupportedException("CUDA is not available: this build ships the CPU libtorch, or no GPU and driver were found. " +
                "Build with -p:LibTorch=external and put a CUDA libtorch (for example PyTorch's torch/lib) on LD_LIBRARY_PATH.");
        return CUDA;
    }

    public ScalarType? ResolveType(ParseResult result) => result.GetValue(DType) switch
    {
        "f32" => ScalarType.Float32,
        "bf16" => ScalarType.BFloat16,
        "f16" => ScalarType.Float16,
        _ => null,
    };

    /// <summary>
    /// The backend for [G, N, D] inputs: the CUDA kernels for CUDA tensors they support, otherwise the
    /// portable reference, saying why when the kernels were passed over.
    /// </summary>
    public static ISvg2Backend ChooseBackend(Tensor q, Tensor k, Tensor v)
    {
        var preferred = q.device_type == DeviceType.CUDA ? new CudaBackend() : null;
        var backend = BackendChoice.For(preferred, q, k, v, out var reason);
        if (reason is not null) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {reason}.");
        return backend;
    }

    /// <summary>Says so when an operator with <paramref name="options"/> cannot use <paramref name="backend"/> and runs on the reference.</summary>
    public static void NoteFallback(ISvg2Backend backend, Configuration.Svg2Options options)
    {
        BackendChoice.For(backend, options, out var reason);
        if (reason is not null) AnsiConsole.MarkupLineInterpolated($"[yellow]note:[/] {reason}.");
    }

    public static ScalarType DefaultType(Device device) => device.type == DeviceType.CUDA ? ScalarType.BFloat16 : ScalarType.Float32;
}
