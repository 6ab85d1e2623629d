namespace Svg2.Cuda.Traits;

/// <summary>
/// The hardware shapes of hopper.cuh that size the Hopper kernels' launches: a warpgroup's threads,
/// the rows of one warpgroup MMA, the alignment of the 128-byte-swizzled shared-memory panels and
/// the size of one mbarrier. hopper.cuh checks each against the hardware at compile time.
/// </summary>
internal static class HopperTraits
{
    /// <summary>Threads of one warpgroup: four warps.</summary>
    public const int WarpgroupThreads = 4 * KernelTraits.WarpSize;

    /// <summary>Rows of one warpgroup MMA (M of every wgmma).</summary>
    public const int WarpgroupRows = 64;

    /// <summary>Alignment of the swizzled panels; a block reserves it as slack in front of them.</summary>
    public const int SharedAlignment = 1024;

    /// <summary>Bytes of one shared-memory mbarrier.</summary>
    public const int BarrierBytes = sizeof(ulong);

    /// <summary>The macros of hopper.cuh, for every program that includes it.</summary>
    public static IReadOnlyList<KernelMacro> Macros { get; } =
    [
        new("SVG2_WARPGROUP_THREADS", WarpgroupThreads), new("SVG2_WARPGROUP_ROWS", WarpgroupRows),
        new("SVG2_SHARED_ALIGNMENT", SharedAlignment), new("SVG2_BARRIER_BYTES", BarrierBytes),
    ];
}
