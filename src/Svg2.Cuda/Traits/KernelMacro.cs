namespace Svg2.Cuda.Traits;

/// <summary>One NVRTC macro a kernel program is compiled with; the kernels refuse to compile without it.</summary>
/// <param name="Name">The macro, e.g. <c>SVG2_HEAD_DIM</c>.</param>
/// <param name="Value">Its value.</param>
internal readonly record struct KernelMacro(string Name, int Value)
{
    /// <summary>The NVRTC option that defines it.</summary>
    public string Option => $"-D{Name}={Value}";
}
