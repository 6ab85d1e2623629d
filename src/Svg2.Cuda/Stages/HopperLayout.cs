namespace Svg2.Cuda.Stages;

/// <summary>
/// The constants of hopper.cuh that the host needs to size launches of the Hopper kernels: a
/// warpgroup's threads and MMA rows, and the alignment of the swizzled shared-memory panels.
/// </summary>
internal static class HopperLayout
{
    /// <summary>Threads of one warpgroup, as kWarpgroupThreads.</summary>
    public const int WarpgroupThreads = 128;

    /// <summary>Rows of one warpgroup MMA (M of every wgmma), as kWarpgroupRows.</summary>
    public const int WarpgroupRows = 64;

    /// <summary>Alignment of the 128-byte-swizzled panels, as kSharedAlignment; blocks reserve it as slack.</summary>
    public const int SharedAlignment = 1024;
}
