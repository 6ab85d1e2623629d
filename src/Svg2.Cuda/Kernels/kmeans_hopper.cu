// K-means assignment for Hopper (sm_90a): the same result as svg2_kmeans_assign in kmeans.cu, with
// warpgroup MMA. Norms, counting sort and segment means stay the kernels of kmeans.cu / layout.cu.
//
// svg2_kmeans_assign_hopper: grid (ceil(N / 128), G), 2 warpgroups (256 threads), 2 blocks per
//   multiprocessor. The block's 128 points stay in shared memory; warpgroup w owns points
//   64 w .. 64 w + 63. Centroids stream through shared memory in 128-row tiles (two stages of
//   cp.async, the next tile loads while this one computes); per tile each warpgroup runs one wgmma
//   chain (D / 16 k16 steps, both operands in shared memory) for its 64 x 128 dot products, then a
//   running argmin of |c|^2 - 2 x.c per row (|x|^2 is the same for every centroid). The N x K
//   distance matrix is never written. Shared memory: 32 + 2 x 32 KiB (D 128).
//   Traffic: points read once; every block reads all K centroids (from L2).
#include "hopper.cuh"

constexpr int kAssignGroupThreads = 2 * kWarpgroupThreads;
constexpr int kAssignGroupPoints = 2 * kWarpgroupRows;
constexpr int kAssignCentroidTile = 128;                        // N of one wgmma
constexpr int kAssignGroupMinBlocks = 2;
constexpr int kAssignDotRegisters = kAssignCentroidTile / 2;    // 64 x 128 fp32 over 128 threads
constexpr int kAssignStages = 2;

extern "C" __global__ void __launch_bounds__(kAssignGroupThreads, kAssignGroupMinBlocks)
svg2_kmeans_assign_hopper(const element_t* __restrict__ points, const element_t* __restrict__ centroids,
                          const float* __restrict__ centroid_norms, int64* __restrict__ labels, int n, int k)
{
    extern __shared__ unsigned char shared[];
    constexpr int kPointTileBytes = kAssignGroupPoints * kRowBytes;
    constexpr int kCentroidTileBytes = kAssignCentroidTile * kRowBytes;
    const unsigned point_tile = aligned_shared_base(shared);
    const unsigned centroid_tiles = point_tile + kPointTileBytes;

    const int g = blockIdx.y;
    const int first_point = blockIdx.x * kAssignGroupPoints;
    const int warpgroup = threadIdx.x / kWarpgroupThreads, warp_in_group = (threadIdx.x % kWarpgroupThreads) / kWarpSize;
    const int lane = threadIdx.x % kWarpSize;
    const element_t* group_centroids = centroids + (int64)g * k * kHeadDim;
    const float* norms = centroid_norms + (int64)g * k;

    gather_rows<kAssignGroupPoints, kAssignGroupThreads>(point_tile, points + (int64)g * n * kHeadDim,
                                                         [&](int row) { return first_point + row < n ? first_point + row : -1; });
    copy_async_commit();
    const int tiles = (k + kAssignCentroidTile - 1) / kAssignCentroidTile;
    auto load_centroids = [&](int tile) {
        const int first = tile * kAssignCentroidTile;
        gather_rows<kAssignCentroidTile, kAssignGroupThreads>(centroid_tiles + (tile % kAssignStages) * kCentroidTileBytes, group_centroids,
                                                              [&](int row) { return first + row < k ? first + row : -1; });
    };
    load_centroids(0);
    copy_async_commit();

    // Rows g and g + 8 of this thread's warp.
    float best[2] = {__int_as_float(0x7f800000), __int_as_float(0x7f800000)};
    int best_index[2] = {0, 0};
    const unsigned point_slice = point_tile + warpgroup * kWarpgroupRows * kPanelRowBytes;
    for (int t = 0; t < tiles; ++t)
    {
        if (t + 1 < tiles) load_centroids(t + 1);
        copy_async_commit();
        copy_async_wait<1>();
        fence_async_shared();
        __syncthreads();

        float dot[kAssignDotRegisters];
        wgmma_rows_by_rows(dot, point_slice, kAssignGroupPoints, centroid_tiles + (t % kAssignStages) * kCentroidTileBytes, kAssignCentroidTile);
        warpgroup_wait_all();
        fence_registers(dot);
        // Columns are visited in increasing order, so a strict '<' keeps the lowest id on ties.
#pragma unroll
        for (int j = 0; j < kAssignCentroidTile / 8; ++j)
#pragma unroll
            for (int e = 0; e < 2; ++e)
            {
                const int column = t * kAssignCentroidTile + j * 8 + 2 * (lane % 4) + e;
                if (column < k)
                {
                    const float norm = norms[column];
#pragma unroll
                    for (int r = 0; r < 2; ++r)
                    {
                        const float distance = norm - 2.f * dot[4 * j + 2 * r + e];
                        if (distance < best[r]) { best[r] = distance; best_index[r] = column; }
                    }
                }
            }
        // Every warpgroup is done with this stage before the next iteration refills it.
        __syncthreads();
    }

#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        quad_argmin(best[r], best_index[r]);
        const int point = first_point + warpgroup * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
        if (lane % 4 == 0 && point < n) labels[(int64)g * n + point] = best_index[r];
    }
}
