namespace Svg2.Evaluation.Benchmarks;

/// <summary>
/// A GPU's datasheet peaks, against which measured rates are quoted: dense bf16 tensor throughput
/// (no sparsity) and memory bandwidth.
/// </summary>
/// <param name="Product">The product the figures are for.</param>
/// <param name="Bf16TeraFlops">Dense bf16 tensor-core TFLOP/s.</param>
/// <param name="MemoryGigabytesPerSecond">Memory bandwidth in GB/s (10^9 bytes).</param>
public sealed record DevicePeaks(string Product, double Bf16TeraFlops, double MemoryGigabytesPerSecond)
{
    static readonly (string NameContains, DevicePeaks Peaks)[] Known =
    [
        ("H100 80GB HBM3", new("H100 SXM5", 989.4, 3350)),
        ("H100 PCIe", new("H100 PCIe", 756.0, 2000)),
        ("H100 NVL", new("H100 NVL", 835.5, 3900)),
        ("H200", new("H200 SXM", 989.4, 4800)),
        ("A100-SXM4-80GB", new("A100 SXM4 80GB", 312.0, 2039)),
    ];

    /// <summary>The peaks for a CUDA device name (as the driver reports it), or null when the product is not listed.</summary>
    public static DevicePeaks? For(string deviceName) =>
        Known.Where(k => deviceName.Contains(k.NameContains, StringComparison.OrdinalIgnoreCase)).Select(k => k.Peaks).FirstOrDefault();
}
