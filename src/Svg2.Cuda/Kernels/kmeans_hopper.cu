// K-means assignment for Hopper (sm_90a): the result of svg2_kmeans_assign (kmeans.cu) with
// warpgroup MMA (wgmma), bulk copies of prepared centroid tiles and twice the points per tile.
//
// svg2_centroid_tiles: grid (ceil(K / 128), G), 256 threads, a row's 16-byte chunks on neighbouring
//   lanes. Writes each 128-centroid tile as the image the assignment's shared memory needs: the rows
//   in 128-byte-swizzled panels (hopper.cuh), then each row's bias -|c|^2 / 2 as float32 (-inf for
//   rows past K, whose elements are zero). It replaces svg2_centroid_norms on Hopper. Traffic:
//   centroids read once, the image (K rounded up to 128 rows, plus 4 bytes a row) written once.
// svg2_kmeans_assign_hopper: persistent grid (at most one block per multiprocessor), 4 warpgroups
//   (512 threads). A work item is 256 points of one group; the G x ceil(N / 256) items are taken
//   round-robin by the blocks, and a block's tiles form one sequence over its items. A group's
//   points are group_rows >= N rows apart, as in kmeans.cu.
//   Work split: warpgroup c owns points 64 c .. 64 c + 63 of every item (kRowBlocks 64-row blocks)
//   and copies them itself (cp.async into its part of a point slot; 2 slots, so the next item's
//   points load while the current item runs). Thread 0 keeps kCentroidStages tiles in flight: per
//   tile, one bulk copy of the panels and one of the biases, completing on the stage's "full"
//   barrier; it refills a stage once every warpgroup has arrived on its "empty" barrier. Per tile,
//   a warpgroup's accumulators start at the bias, S (64 x 128) = x c^T is added by 8 wgmma k16
//   steps with both operands in shared memory, and each row's best of the tile meets its running
//   argmax (nearest_centroid.cuh). A last tile with at most 64 centroids left uses m64n64 (QC = 300
//   costs 320 columns, not 384). The scores never leave registers.
// Why: with 128 points per centroid tile the assignment was bound by moving centroids from L2
//   (about 2.85 TB/s); 256 points per tile halve that traffic. A warpgroup's 8 k steps form one
//   dependent chain, and its argmax waits for them: four warpgroups keep four chains for the tensor
//   cores while others run their argmax. Without a producer warpgroup (the copies are one bulk copy
//   per tile, and each warpgroup's own points) the block has room for them (docs/cuda-performance.md).
// Shared memory (D 128): 2 point slots x 64 KiB + kCentroidStages x (32 KiB + 512 B of biases) +
//   barriers, 1024-byte aligned: 227 KiB. Traffic: points read once; every item reads the group's
//   centroid image from L2 (33 KiB per 128 centroids).
#include "hopper.cuh"
#include "nearest_centroid.cuh"

#ifndef SVG2_KMEANS_HOPPER_CONSUMERS
#error "SVG2_KMEANS_HOPPER_CONSUMERS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_HOPPER_ROW_BLOCKS
#error "SVG2_KMEANS_HOPPER_ROW_BLOCKS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_HOPPER_TILE_CENTROIDS
#error "SVG2_KMEANS_HOPPER_TILE_CENTROIDS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_HOPPER_POINT_SLOTS
#error "SVG2_KMEANS_HOPPER_POINT_SLOTS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_HOPPER_CENTROID_STAGES
#error "SVG2_KMEANS_HOPPER_CENTROID_STAGES must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_HOPPER_IMAGE_THREADS
#error "SVG2_KMEANS_HOPPER_IMAGE_THREADS must be defined (KMeansTraits)"
#endif

constexpr int kAssignConsumers = SVG2_KMEANS_HOPPER_CONSUMERS;
constexpr int kAssignBlockThreads = kAssignConsumers * kWarpgroupThreads;
constexpr int kRowBlocks = SVG2_KMEANS_HOPPER_ROW_BLOCKS;     // 64-row blocks per warpgroup
constexpr int kConsumerPoints = kRowBlocks * kWarpgroupRows;  // one panelled tile per warpgroup
constexpr int kItemPoints = kAssignConsumers * kConsumerPoints;
constexpr int kTileCentroids = SVG2_KMEANS_HOPPER_TILE_CENTROIDS;  // N of a full tile: one wgmma n128 per k step
constexpr int kTailCentroids = 64;                          // N of a last tile with at most 64 centroids left
constexpr int kPointSlots = SVG2_KMEANS_HOPPER_POINT_SLOTS;
constexpr int kCentroidStages = SVG2_KMEANS_HOPPER_CENTROID_STAGES;
constexpr int kConsumerBytes = kConsumerPoints * kRowBytes;
constexpr int kItemBytes = kItemPoints * kRowBytes;
constexpr int kTileBytes = kTileCentroids * kRowBytes;
constexpr int kTileBiasBytes = kTileCentroids * sizeof(float);
constexpr int kTileImageBytes = kTileBytes + kTileBiasBytes;    // one tile of the centroid image
constexpr int kImageThreads = SVG2_KMEANS_HOPPER_IMAGE_THREADS;
constexpr int kImageRowsPerPass = kImageThreads / kRowChunks;
static_assert(kRowChunks <= kWarpSize && kTileCentroids % kImageRowsPerPass == 0, "a row's chunks in one warp, whole passes");
constexpr int kWarpgroupBarrierBase = 1;                    // named barrier 1 + c: warpgroup c
static_assert(kTileBytes % kSharedAlignment == 0, "stages keep the panels' alignment");

extern "C" __global__ void __launch_bounds__(kImageThreads)
svg2_centroid_tiles(const element_t* __restrict__ centroids, unsigned char* __restrict__ image, int k)
{
    // Thread t copies 16-byte chunk t % kRowChunks of rows t / kRowChunks + i x kImageRowsPerPass, so
    // a row's chunks are read by neighbouring lanes, which then sum the row's squares by shuffles.
    const int tile = blockIdx.x, g = blockIdx.y, tiles = gridDim.x, chunk = threadIdx.x % kRowChunks;
    unsigned char* tile_image = image + ((int64)g * tiles + tile) * kTileImageBytes;
#pragma unroll
    for (int pass = 0; pass < kTileCentroids / kImageRowsPerPass; ++pass)
    {
        const int row = threadIdx.x / kRowChunks + pass * kImageRowsPerPass, centroid = tile * kTileCentroids + row;
        const bool valid = centroid < k;
        uint4 bits = {0, 0, 0, 0};
        if (valid) bits = *(const uint4*)(centroids + ((int64)g * k + centroid) * kHeadDim + chunk * kChunkElements);
        *(uint4*)(tile_image + panel_offset(row, chunk, kTileCentroids)) = bits;
        const element_t* elements = (const element_t*)&bits;
        float norm = 0.f;
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e)
        {
            const float x = element_to_float(elements[e]);
            norm += x * x;
        }
#pragma unroll
        for (int offset = 1; offset < kRowChunks; offset *= 2) norm += __shfl_xor_sync(kFullMask, norm, offset);
        if (chunk == 0) ((float*)(tile_image + kTileBytes))[row] = valid ? -0.5f * norm : negative_infinity();
    }
}

// Starts a block's accumulators at the biases of their columns, so that the wgmma leaves the score
// x.c - |c|^2 / 2 (-inf past the last centroid) and the argmax needs no per-column arithmetic.
template <int Columns>
__device__ __forceinline__ void start_at_bias(float (&score)[Columns / 2], const float* tile_bias)
{
    const int lane = threadIdx.x % kWarpSize;
#pragma unroll
    for (int j = 0; j < Columns / 8; ++j)
    {
        const float2 bias = *(const float2*)(tile_bias + 8 * j + 2 * (lane % 4));
        score[4 * j] = score[4 * j + 2] = bias.x;
        score[4 * j + 1] = score[4 * j + 3] = bias.y;
    }
}

// Folds a 64-row block's scores of a tile into its rows' running bests.
template <int Columns>
__device__ __forceinline__ void keep_block_best(float (&best)[2], int (&best_column)[2], const float (&score)[Columns / 2], int first_centroid,
                                                int valid_columns)
{
#pragma unroll
    for (int r = 0; r < 2; ++r)
        keep_row_best<Columns / 4>(best[r], best_column[r], first_centroid, valid_columns, [&](int j, int e) { return score[4 * j + 2 * r + e]; });
}

// One centroid tile of a warpgroup: its 64-row blocks in turn, the stage released after the last.
template <int Columns>
__device__ __forceinline__ void nearest_in_tile(float (&best)[kRowBlocks][2], int (&best_column)[kRowBlocks][2], unsigned points,
                                                unsigned tile, const float* tile_bias, int first_centroid, int valid_columns,
                                                unsigned empty_barrier)
{
#pragma unroll
    for (int b = 0; b < kRowBlocks; ++b)
    {
        float score[Columns / 2];
        start_at_bias<Columns>(score, tile_bias);
        wgmma_rows_by_rows<Columns>(score, points + b * kWarpgroupRows * kPanelRowBytes, kConsumerPoints, tile, kTileCentroids, true);
        warpgroup_wait<0>();
        fence_registers(score);
        if (b == kRowBlocks - 1) barrier_arrive(empty_barrier);
        keep_block_best<Columns>(best[b], best_column[b], score, first_centroid, valid_columns);
    }
}

// This warpgroup's kConsumerPoints points of an item into its part of a point slot (zero rows past
// N), as one cp.async group.
__device__ __forceinline__ void copy_points(unsigned slot, const element_t* points, int n, int group_rows, int item, int items_per_group, int consumer)
{
    const RowGather<kConsumerPoints, kWarpgroupThreads> gather;
    const int g = item / items_per_group, first = (item % items_per_group) * kItemPoints + consumer * kConsumerPoints;
    gather({slot + consumer * kConsumerBytes}, {gather.chunk_base(points + (int64)g * group_rows * kHeadDim)},
           [&](int row) { return first + row < n ? first + row : -1; });
}

extern "C" __global__ void __launch_bounds__(kAssignBlockThreads, 1)
svg2_kmeans_assign_hopper(const element_t* __restrict__ points, const unsigned char* __restrict__ image, int64* __restrict__ labels,
                          int n, int group_rows, int k, int groups)
{
    extern __shared__ unsigned char assign_shared[];
    const unsigned point_slots = aligned_shared_base(assign_shared);
    const unsigned centroid_stages = point_slots + kPointSlots * kItemBytes;
    const unsigned bias_stages = centroid_stages + kCentroidStages * kTileBytes;
    const unsigned full = bias_stages + kCentroidStages * kTileBiasBytes;    // [kCentroidStages]: tile landed
    const unsigned empty = full + kCentroidStages * kBarrierBytes;           // [kCentroidStages]: tile read
    const float* biases = (const float*)(assign_shared + (bias_stages - shared_address(assign_shared)));

    const int tid = threadIdx.x, consumer = tid / kWarpgroupThreads;
    const int lane = tid % kWarpSize, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    const int items_per_group = (n + kItemPoints - 1) / kItemPoints;
    const int items = groups * items_per_group;
    const int tiles = (k + kTileCentroids - 1) / kTileCentroids;
    const int block_items = blockIdx.x < items ? (items - 1 - blockIdx.x) / gridDim.x + 1 : 0;
    const int block_tiles = block_items * tiles;

    // Thread 0 copies tile 'sequence' of this block's tile sequence into its stage.
    auto fetch_tile = [&](int sequence) {
        const int stage = sequence % kCentroidStages;
        const int item = blockIdx.x + (sequence / tiles) * gridDim.x, g = item / items_per_group;
        const unsigned char* source = image + ((int64)g * tiles + sequence % tiles) * kTileImageBytes;
        barrier_arrive_expect_bytes(full + stage * kBarrierBytes, kTileImageBytes);
        bulk_copy(centroid_stages + stage * kTileBytes, source, kTileBytes, full + stage * kBarrierBytes);
        bulk_copy(bias_stages + stage * kTileBiasBytes, source + kTileBytes, kTileBiasBytes, full + stage * kBarrierBytes);
    };
    if (tid == 0)
    {
        for (int stage = 0; stage < kCentroidStages; ++stage)
        {
            barrier_init(full + stage * kBarrierBytes, 1);
            barrier_init(empty + stage * kBarrierBytes, kAssignBlockThreads);
        }
        barrier_init_fence();
    }
    __syncthreads();
    if (tid == 0)
        for (int sequence = 0; sequence < kCentroidStages && sequence < block_tiles; ++sequence) fetch_tile(sequence);
    if (block_items > 0) copy_points(point_slots, points, n, group_rows, blockIdx.x, items_per_group, consumer);
    copy_async_commit();

    int sequence = 0;
    for (int local = 0; local < block_items; ++local)
    {
        const int item = blockIdx.x + local * gridDim.x;
        const int g = item / items_per_group, first_point = (item % items_per_group) * kItemPoints;
        const unsigned slot = point_slots + (local % kPointSlots) * kItemBytes;
        // The next item's points go to the other slot, last read by this warpgroup's previous item.
        if (local + 1 < block_items)
            copy_points(point_slots + ((local + 1) % kPointSlots) * kItemBytes, points, n, group_rows, item + gridDim.x, items_per_group, consumer);
        copy_async_commit();
        copy_async_wait<1>();
        named_barrier_sync(kWarpgroupBarrierBase + consumer, kWarpgroupThreads);
        // The points were copied through the generic proxy; wgmma reads through the async one.
        fence_async_shared();
        const unsigned consumer_points = slot + consumer * kConsumerBytes;

        // Rows 16 w + lane / 4 and that + 8 of each 64-row block: the best score and its centroid.
        float best[kRowBlocks][2];
        int best_column[kRowBlocks][2];
#pragma unroll
        for (int b = 0; b < kRowBlocks; ++b)
            best[b][0] = best[b][1] = negative_infinity(), best_column[b][0] = best_column[b][1] = 0;
        for (int t = 0; t < tiles; ++t, ++sequence)
        {
            const int stage = sequence % kCentroidStages, first_centroid = t * kTileCentroids;
            const unsigned stage_full = full + stage * kBarrierBytes, stage_empty = empty + stage * kBarrierBytes;
            barrier_wait(stage_full, (sequence / kCentroidStages) & 1);
            const unsigned tile = centroid_stages + stage * kTileBytes;
            const float* tile_bias = biases + stage * kTileCentroids;
            if (k - first_centroid <= kTailCentroids)
                nearest_in_tile<kTailCentroids>(best, best_column, consumer_points, tile, tile_bias, first_centroid, k - first_centroid, stage_empty);
            else
                nearest_in_tile<kTileCentroids>(best, best_column, consumer_points, tile, tile_bias, first_centroid, k - first_centroid, stage_empty);
            // Refill the stage with the tile kCentroidStages ahead once every warpgroup has read it.
            if (tid == 0 && sequence + kCentroidStages < block_tiles)
            {
                barrier_wait(stage_empty, (sequence / kCentroidStages) & 1);
                fetch_tile(sequence + kCentroidStages);
            }
            // The rest of warp 0 waits for thread 0 here: wgmma needs the whole warp converged.
            __syncwarp();
        }
#pragma unroll
        for (int b = 0; b < kRowBlocks; ++b)
#pragma unroll
            for (int r = 0; r < 2; ++r)
            {
                const int point = first_point + consumer * kConsumerPoints + b * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
                store_nearest(best[b][r], best_column[b][r], labels + (int64)g * n + point, point < n);
            }
    }
    copy_async_wait<0>();
}
