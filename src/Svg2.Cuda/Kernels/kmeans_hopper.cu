// K-means assignment for Hopper (sm_90a): the result of svg2_kmeans_assign (kmeans.cu) with
// warpgroup MMA (wgmma), warp specialisation and twice the points per centroid tile.
//
// svg2_kmeans_assign_hopper: persistent grid (at most one block per multiprocessor), 3 warpgroups
//   (384 threads). A work item is 256 points of one group; the G x ceil(N / 256) items are taken
//   round-robin by the blocks.
//   Work split: warpgroup 0 is the producer. Per item it copies the 256 points into a free point
//   slot (2 slots, one 128-row tile per consumer), then streams the group's centroids in 128-row
//   tiles, with their norms, into a ring of kCentroidStages stages. Copies are cp.async into the
//   128-byte-swizzled panels wgmma reads (hopper.cuh); each copy arrives on its slot's or stage's
//   "full" barrier when it lands, so the producer runs ahead and waits only on "empty" barriers
//   before reusing a slot or stage. Warpgroups 1 and 2 are consumers; consumer c owns points
//   128 c .. 128 c + 127 of an item as two 64-row blocks, computed in turn: per block and centroid
//   tile, the accumulators start at -|c|^2 / 2, S (64 x 128) = x c^T is added by 8 (D 128) wgmma
//   k16 steps with both operands in shared memory, and each row's best of the tile meets its
//   running argmax (nearest_centroid.cuh). The stage is released after the second block's product.
//   A last tile with at most 64 centroids left uses m64n64, so QC = 300 computes 320 columns, not
//   384. The N x K scores never leave registers.
// Why: with 128 points per centroid tile (the mma.sync kernel, and a first version of this one)
//   the assignment moved about 2.85 TB/s of centroids from L2 and was bound by it; 256 points per
//   tile halve that traffic. One 64 x 128 product in flight per warpgroup: with two in flight, or an
//   argmax while the next product runs, ptxas runs out of registers for the wgmma pipeline and
//   waits after every k step (docs/cuda-performance.md). The other consumer's products keep the
//   tensor cores busy during one's argmax.
// Shared memory (D 128): 2 point slots x 64 KiB + kCentroidStages x (32 KiB + 512 B of norms) +
//   barriers, 1024-byte aligned: 227 KiB. Traffic: points read once; every item reads all K
//   centroids from L2 (256 KiB per group at K 1000).
#include "hopper.cuh"
#include "nearest_centroid.cuh"

constexpr int kAssignConsumers = 2;
constexpr int kAssignProducerThreads = kWarpgroupThreads;
constexpr int kAssignConsumerThreads = kAssignConsumers * kWarpgroupThreads;
constexpr int kAssignBlockThreads = kAssignProducerThreads + kAssignConsumerThreads;
// setmaxnreg budgets; the block can only redistribute the registers it starts with.
constexpr int kAssignProducerRegisters = 72;
constexpr int kAssignConsumerRegisters = 216;
static_assert(kAssignProducerThreads * kAssignProducerRegisters + kAssignConsumerThreads * kAssignConsumerRegisters
                  <= kAssignBlockThreads * kStartRegistersFor<kAssignBlockThreads>, "registers the block owns");
constexpr int kRowBlocks = 2;                               // 64-row blocks per consumer, computed in turn
constexpr int kConsumerPoints = kRowBlocks * kWarpgroupRows;  // one panelled tile per consumer
constexpr int kItemPoints = kAssignConsumers * kConsumerPoints;
constexpr int kTileCentroids = 128;                         // N of a full tile: one wgmma n128 per k step
constexpr int kTailCentroids = 64;                          // N of a last tile with at most 64 centroids left
constexpr int kPointSlots = 2;
constexpr int kCentroidStages = 3;
constexpr int kBarrierBytes = 8;
constexpr int kConsumerBytes = kConsumerPoints * kRowBytes;
constexpr int kItemBytes = kItemPoints * kRowBytes;
constexpr int kTileBytes = kTileCentroids * kRowBytes;
static_assert(kTileCentroids == kAssignProducerThreads, "one norm copy per producer thread");

// Starts a block's accumulators at -|c|^2 / 2 (-inf past the last centroid), so that the wgmma
// leaves the score x.c - |c|^2 / 2 and the argmax needs no per-column arithmetic.
template <int Columns>
__device__ __forceinline__ void start_at_bias(float (&score)[Columns / 2], const float* tile_norms, int first_centroid, int k)
{
    const int lane = threadIdx.x % kWarpSize;
#pragma unroll
    for (int j = 0; j < Columns / 8; ++j)
    {
        const int column = 8 * j + 2 * (lane % 4);
        const float2 norm = *(const float2*)(tile_norms + column);
        score[4 * j] = score[4 * j + 2] = first_centroid + column < k ? -0.5f * norm.x : negative_infinity();
        score[4 * j + 1] = score[4 * j + 3] = first_centroid + column + 1 < k ? -0.5f * norm.y : negative_infinity();
    }
}

// One centroid tile of a consumer: its two 64-row blocks in turn (scores against the first
// 'Columns' centroids of the stage, then the rows' running bests), and the stage's release once
// the second product has read it. 'points' is the consumer's 128-row tile. One product at a time
// keeps 64 accumulators in flight: with both blocks in flight ptxas runs out of registers for the
// wgmma pipeline and waits after every k step; the other consumer's products fill the tensor cores
// while this one's argmax runs.
template <int Columns>
__device__ __forceinline__ void nearest_in_tile(float (&best)[kRowBlocks][2], int (&best_column)[kRowBlocks][2], unsigned points,
                                                unsigned tile, const float* tile_norms, int first_centroid, int k, unsigned empty_barrier)
{
#pragma unroll
    for (int b = 0; b < kRowBlocks; ++b)
    {
        float score[Columns / 2];
        start_at_bias<Columns>(score, tile_norms, first_centroid, k);
        wgmma_rows_by_rows<Columns>(score, points + b * kWarpgroupRows * kPanelRowBytes, kConsumerPoints, tile, kTileCentroids, true);
        warpgroup_wait<0>();
        fence_registers(score);
        if (b == kRowBlocks - 1) barrier_arrive(empty_barrier);
#pragma unroll
        for (int r = 0; r < 2; ++r)
            keep_row_best<Columns / 4>(best[b][r], best_column[b][r], first_centroid, [&](int j, int e) { return score[4 * j + 2 * r + e]; });
    }
}

extern "C" __global__ void __launch_bounds__(kAssignBlockThreads, 1)
svg2_kmeans_assign_hopper(const element_t* __restrict__ points, const element_t* __restrict__ centroids,
                          const float* __restrict__ centroid_norms, int64* __restrict__ labels, int n, int k, int groups)
{
    extern __shared__ unsigned char assign_shared[];
    const unsigned point_slots = aligned_shared_base(assign_shared);
    const unsigned centroid_stages = point_slots + kPointSlots * kItemBytes;
    const unsigned norm_stages = centroid_stages + kCentroidStages * kTileBytes;
    const unsigned point_full = norm_stages + kCentroidStages * kTileCentroids * sizeof(float);   // [kPointSlots]
    const unsigned point_empty = point_full + kPointSlots * kBarrierBytes;                        // [kPointSlots]
    const unsigned full = point_empty + kPointSlots * kBarrierBytes;                              // [kCentroidStages]
    const unsigned empty = full + kCentroidStages * kBarrierBytes;                                // [kCentroidStages]
    const float* norms_shared = (const float*)(assign_shared + (norm_stages - shared_address(assign_shared)));

    const int tid = threadIdx.x, warpgroup = tid / kWarpgroupThreads;
    if (tid == 0)
    {
        for (int slot = 0; slot < kPointSlots; ++slot)
        {
            barrier_init(point_full + slot * kBarrierBytes, kAssignProducerThreads);
            barrier_init(point_empty + slot * kBarrierBytes, kAssignConsumerThreads);
        }
        for (int stage = 0; stage < kCentroidStages; ++stage)
        {
            barrier_init(full + stage * kBarrierBytes, kAssignProducerThreads);
            barrier_init(empty + stage * kBarrierBytes, kAssignConsumerThreads);
        }
        barrier_init_fence();
    }
    __syncthreads();

    const int items_per_group = (n + kItemPoints - 1) / kItemPoints;
    const int items = groups * items_per_group;
    const int tiles = (k + kTileCentroids - 1) / kTileCentroids;

    if (warpgroup == 0)
    {
        release_registers<kAssignProducerRegisters>();
        const RowGather<kConsumerPoints, kAssignProducerThreads> point_gather;
        const RowGather<kTileCentroids, kAssignProducerThreads> gather;
        int tile_count = 0, local = 0;
        for (int item = blockIdx.x; item < items; item += gridDim.x, ++local)
        {
            const int g = item / items_per_group, first_point = (item % items_per_group) * kItemPoints;
            const int slot = local % kPointSlots;
            if (local >= kPointSlots) barrier_wait(point_empty + slot * kBarrierBytes, (local / kPointSlots - 1) & 1);
            const char* point_chunks = point_gather.chunk_base(points + (int64)g * n * kHeadDim);
            for (int c = 0; c < kAssignConsumers; ++c)
            {
                const int first = first_point + c * kConsumerPoints;
                point_gather({point_slots + slot * kItemBytes + c * kConsumerBytes}, {point_chunks}, [&](int row) { return first + row < n ? first + row : -1; });
            }
            barrier_arrive_after_copies(point_full + slot * kBarrierBytes);

            const char* centroid_chunks = gather.chunk_base(centroids + (int64)g * k * kHeadDim);
            const float* norms = centroid_norms + (int64)g * k;
            for (int t = 0; t < tiles; ++t, ++tile_count)
            {
                const int stage = tile_count % kCentroidStages, first_centroid = t * kTileCentroids;
                if (tile_count >= kCentroidStages) barrier_wait(empty + stage * kBarrierBytes, (tile_count / kCentroidStages - 1) & 1);
                gather({centroid_stages + stage * kTileBytes}, {centroid_chunks},
                       [&](int row) { return first_centroid + row < k ? first_centroid + row : -1; });
                const bool valid = first_centroid + tid < k;
                copy_async_4(norm_stages + (stage * kTileCentroids + tid) * sizeof(float), norms + (valid ? first_centroid + tid : 0), valid);
                barrier_arrive_after_copies(full + stage * kBarrierBytes);
            }
        }
        copy_async_wait<0>();
        return;
    }

    claim_registers<kAssignConsumerRegisters>();
    const int consumer = warpgroup - 1, lane = tid % kWarpSize, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    int tile_count = 0, local = 0;
    for (int item = blockIdx.x; item < items; item += gridDim.x, ++local)
    {
        const int g = item / items_per_group, first_point = (item % items_per_group) * kItemPoints;
        const int slot = local % kPointSlots;
        barrier_wait(point_full + slot * kBarrierBytes, (local / kPointSlots) & 1);
        const unsigned consumer_points = point_slots + slot * kItemBytes + consumer * kConsumerBytes;

        // Rows 16 w + lane / 4 and that + 8 of each 64-row block: the best score and its centroid.
        float best[kRowBlocks][2];
        int best_column[kRowBlocks][2];
#pragma unroll
        for (int b = 0; b < kRowBlocks; ++b)
            best[b][0] = best[b][1] = negative_infinity(), best_column[b][0] = best_column[b][1] = 0;
        for (int t = 0; t < tiles; ++t, ++tile_count)
        {
            const int stage = tile_count % kCentroidStages, first_centroid = t * kTileCentroids;
            barrier_wait(full + stage * kBarrierBytes, (tile_count / kCentroidStages) & 1);
            // The copies were made through the generic proxy; wgmma reads through the async one.
            fence_async_shared();
            const unsigned tile = centroid_stages + stage * kTileBytes, stage_empty = empty + stage * kBarrierBytes;
            const float* tile_norms = norms_shared + stage * kTileCentroids;
            if (k - first_centroid <= kTailCentroids)
                nearest_in_tile<kTailCentroids>(best, best_column, consumer_points, tile, tile_norms, first_centroid, k, stage_empty);
            else
                nearest_in_tile<kTileCentroids>(best, best_column, consumer_points, tile, tile_norms, first_centroid, k, stage_empty);
        }
        // Every wgmma that read the slot has completed (nearest_in_tile waits for each).
        barrier_arrive(point_empty + slot * kBarrierBytes);
#pragma unroll
        for (int b = 0; b < kRowBlocks; ++b)
#pragma unroll
            for (int r = 0; r < 2; ++r)
            {
                const int point = first_point + consumer * kConsumerPoints + b * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
                store_nearest(best[b][r], best_column[b][r], labels + (int64)g * n + point, point < n);
            }
    }
}
