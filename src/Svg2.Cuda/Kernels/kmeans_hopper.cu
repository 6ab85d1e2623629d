// K-means assignment for Hopper (sm_90a): the result of svg2_kmeans_assign (kmeans.cu) with
// warpgroup MMA (wgmma), bulk copies of prepared centroid tiles and twice the points per tile.
//
// svg2_centroid_tiles: grid (ceil(K / 128), G), 256 threads, a row's 16-byte chunks on neighbouring
//   lanes. Writes each 128-centroid tile as the image the assignment's shared memory needs: the rows
//   in 128-byte-swizzled panels (hopper.cuh), then each row's bias -|c|^2 / 2 as float32 (-inf for
//   rows past K, whose elements are zero). It replaces svg2_centroid_norms on Hopper. Traffic:
//   centroids read once, the image (K rounded up to 128 rows, plus 4 bytes a row) written once.
// svg2_segment_means_image, svg2_segment_means_wide_image: the member means of kmeans.cu (segment_means.cuh)
//   that also write each new centroid's image row and bias, so that a call's later iterations skip
//   svg2_centroid_tiles. Traffic: the means' own, plus the image rows written once.
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
//   argmax (nearest_centroid.cuh). A last tile's products stop at its centroids rounded up to 64, 80, 96
//   or 112 columns (m64nN; QC = 200 costs 208 columns, not 256; KC = 1000 1008, not 1024); FP8 products
//   at 64 or 128. The scores never leave registers.
// Why: with 128 points per centroid tile the assignment was bound by moving centroids from L2
//   (about 2.85 TB/s); 256 points per tile halve that traffic. A warpgroup's 8 k steps form one
//   dependent chain, and its argmax waits for them: four warpgroups keep four chains for the tensor
//   cores while others run their argmax. Without a producer warpgroup (the copies are one bulk copy
//   per tile, and each warpgroup's own points) the block has room for them (docs/cuda-performance.md).
// Shared memory (D 128): 2 point slots x 64 KiB + kCentroidStages x (32 KiB + 512 B of biases) +
//   barriers, 1024-byte aligned: 227 KiB. Traffic: points read once; every item reads the group's
//   centroid image from L2 (33 KiB per 128 centroids).
//
// FP8 distances (svg2_centroid_tiles_fp8, svg2_kmeans_assign_hopper_fp8): the same search with the
// products x.c in e4m3 (wgmma k32: 4 steps a tile instead of 8, at twice the bf16 rate). Both sides
// first lose the same vector 'mean' ([G, D] float32, the centroids' mean: distances do not change,
// and the rows quantised are the spread around it, not a shared offset). A centroid tile is one
// 128-byte panel row per centroid (e4m3, bytes past D zero) scaled by 448 / the tile's largest
// magnitude, then its biases -|c - mean|^2 / 2 from the unrounded rows, then its dequantisation
// scale in a 16-byte tail. Each warpgroup turns its 64 bf16 points (copied as above) into e4m3 rows
// x - mean scaled by 448 / the row's largest magnitude in its own shared area, the row scales
// beside them, before its first tile. Score = S x row scale x tile scale + bias, then the same
// argmax. A NaN anywhere in a row or tile makes its scale NaN, so every score it touches is NaN,
// as in the reference's emulation (Svg2.Algorithm.Fp8Distances).
// Shared memory (D 128): 2 bf16 point slots x 64 KiB + 4 x 8 KiB of e4m3 points + kCentroidStages x
//   (16 KiB + 528 B) + 1 KiB of row scales + barriers: 212 KiB. Traffic: as above, with half the
//   centroid image.
#include "fp8.cuh"
#include "nearest_centroid.cuh"
#include "segment_means.cuh"

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
#ifndef SVG2_KMEANS_FP8_ROW_BYTES
#error "SVG2_KMEANS_FP8_ROW_BYTES must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_FP8_SCALE_BYTES
#error "SVG2_KMEANS_FP8_SCALE_BYTES must be defined (KMeansTraits)"
#endif

constexpr int kAssignConsumers = SVG2_KMEANS_HOPPER_CONSUMERS;
constexpr int kAssignBlockThreads = kAssignConsumers * kWarpgroupThreads;
constexpr int kRowBlocks = SVG2_KMEANS_HOPPER_ROW_BLOCKS;     // 64-row blocks per warpgroup
constexpr int kConsumerPoints = kRowBlocks * kWarpgroupRows;  // one panelled tile per warpgroup
constexpr int kItemPoints = kAssignConsumers * kConsumerPoints;
constexpr int kTileCentroids = SVG2_KMEANS_HOPPER_TILE_CENTROIDS;  // N of a full tile: one wgmma n128 per k step
constexpr int kTailCentroids = 64;                          // N of a last tile with at most 64 centroids left
constexpr int kTailStep = 16;                               // the 16-bit products' wider tail widths: 80, 96, 112
static_assert(kTailCentroids + 4 * kTailStep == kTileCentroids, "the tail widths step up to a full tile");
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

static_assert(SVG2_KMEANS_FP8_ROW_BYTES == kFp8RowBytes, "the host sizes e4m3 rows as fp8.cuh does (KMeansTraits)");
constexpr int kFp8KSteps = kFp8RowBytes / kFp8WgmmaK;
constexpr int kFp8TileBytes = kTileCentroids * kFp8RowBytes;
constexpr int kFp8ScaleBytes = SVG2_KMEANS_FP8_SCALE_BYTES; // the tile's scale, padded for the bulk copy
constexpr int kFp8TileTailBytes = kTileBiasBytes + kFp8ScaleBytes;
constexpr int kFp8TileImageBytes = kFp8TileBytes + kFp8TileTailBytes;
constexpr int kFp8ConsumerBytes = kConsumerPoints * kFp8RowBytes;
constexpr int kFp8ItemBytes = kAssignConsumers * kFp8ConsumerBytes;
constexpr int kFp8ChunkBytes = kChunkElements;              // a 16-byte chunk of 16-bit elements becomes 8 bytes
static_assert(kFp8RowBytes == kPanelRowBytes && kHeadDim <= kFp8RowBytes && kFp8KSteps <= kStepsPerPanel, "an e4m3 row is one panel row");
static_assert(kFp8ScaleBytes >= (int)sizeof(float) && kFp8ScaleBytes % 16 == 0, "the scale tail is whole bulk-copy units");
static_assert(kFp8TileBytes % kSharedAlignment == 0 && kFp8ItemBytes % kSharedAlignment == 0, "e4m3 panels stay aligned");

// 16-byte chunk 'chunk' of the centroid on row 'row' of tile 'tile' of group g (zeros past the K-th), and whether it is one.
__device__ __forceinline__ uint4 centroid_chunk(const element_t* __restrict__ centroids, int g, int k, int tile, int row, int chunk, bool& valid)
{
    const int centroid = tile * kTileCentroids + row;
    valid = centroid < k;
    uint4 bits = {0, 0, 0, 0};
    if (valid) bits = *(const uint4*)(centroids + ((int64)g * k + centroid) * kHeadDim + chunk * kChunkElements);
    return bits;
}

// The sum of the squares of a 16-byte chunk's elements, in order.
__device__ __forceinline__ float chunk_square_sum(const uint4& bits)
{
    const element_t* elements = (const element_t*)&bits;
    float sum = 0.f;
#pragma unroll
    for (int e = 0; e < kChunkElements; ++e)
    {
        const float x = element_to_float(elements[e]);
        sum += x * x;
    }
    return sum;
}

// The sum of 'x' over the kRowChunks neighbouring lanes that hold one row's chunks.
__device__ __forceinline__ float row_sum(float x)
{
#pragma unroll
    for (int offset = 1; offset < kRowChunks; offset *= 2) x += __shfl_xor_sync(kFullMask, x, offset);
    return x;
}

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
        const int row = threadIdx.x / kRowChunks + pass * kImageRowsPerPass;
        bool valid;
        const uint4 bits = centroid_chunk(centroids, g, k, tile, row, chunk, valid);
        *(uint4*)(tile_image + panel_offset(row, chunk, kTileCentroids)) = bits;
        const float norm = row_sum(chunk_square_sum(bits));
        if (chunk == 0) ((float*)(tile_image + kTileBytes))[row] = valid ? -0.5f * norm : negative_infinity();
    }
}

// The member means (segment_means.cuh) that also write each new centroid's row and bias into the tile image the next
// iteration's assignment reads, bit for bit what svg2_centroid_tiles writes from the new centroids (the bias summed in
// the same order); the rows past K keep what svg2_centroid_tiles wrote for the iteration's start. Saves that kernel's
// launch and its read of the centroids on every iteration but a call's first: the row callback of segment_means.
struct TileImageWriter
{
    static constexpr bool kReadsRow = true;
    unsigned char* image;
    int k;

    __device__ __forceinline__ void operator()(const element_t* row, int cluster, int g) const
    {
        // The first warp: lane t holds chunk t % kRowChunks, as a row's lanes in svg2_centroid_tiles.
        if (threadIdx.x >= kWarpSize) return;
        const int chunk = threadIdx.x % kRowChunks, tile = cluster / kTileCentroids, tile_row = cluster % kTileCentroids;
        const int tiles = (k + kTileCentroids - 1) / kTileCentroids;
        unsigned char* tile_image = image + ((int64)g * tiles + tile) * kTileImageBytes;
        const uint4 bits = ((const uint4*)row)[chunk];
        if (threadIdx.x < kRowChunks) *(uint4*)(tile_image + panel_offset(tile_row, chunk, kTileCentroids)) = bits;
        const float norm = row_sum(chunk_square_sum(bits));
        if (threadIdx.x == 0) ((float*)(tile_image + kTileBytes))[tile_row] = -0.5f * norm;
    }
};

extern "C" __global__ void __launch_bounds__(kMeanWarps * kWarpSize)
svg2_segment_means_image(SVG2_SEGMENT_MEANS_PARAMETERS, unsigned char* __restrict__ image)
{
    segment_means<kMeanWarps>(SVG2_SEGMENT_MEANS_ARGUMENTS, TileImageWriter{image, k});
}

extern "C" __global__ void __launch_bounds__(kWideMeanWarps * kWarpSize)
svg2_segment_means_wide_image(SVG2_SEGMENT_MEANS_PARAMETERS, unsigned char* __restrict__ image)
{
    segment_means<kWideMeanWarps>(SVG2_SEGMENT_MEANS_ARGUMENTS, TileImageWriter{image, k});
}

// Byte offset of the 8 e4m3 bytes that 16-bit chunk 'chunk' of row 'row' becomes, in a single-panel tile.
__device__ __forceinline__ unsigned fp8_offset(int row, int chunk)
{
    constexpr int kHalvesPerChunk = 16 / kFp8ChunkBytes;
    return (unsigned)(row * kFp8RowBytes + ((chunk / kHalvesPerChunk) ^ (row % kSwizzleRows)) * 16 + (chunk % kHalvesPerChunk) * kFp8ChunkBytes);
}

extern "C" __global__ void __launch_bounds__(kImageThreads)
svg2_centroid_tiles_fp8(const element_t* __restrict__ centroids, const float* __restrict__ mean, unsigned char* __restrict__ image, int k)
{
    // Thread t holds 16-bit chunk t % kRowChunks of rows t / kRowChunks + i x kImageRowsPerPass, minus the mean.
    constexpr int kPasses = kTileCentroids / kImageRowsPerPass;
    __shared__ float warp_largest[kImageThreads / kWarpSize];
    const int tile = blockIdx.x, g = blockIdx.y, tiles = gridDim.x, chunk = threadIdx.x % kRowChunks;
    unsigned char* tile_image = image + ((int64)g * tiles + tile) * kFp8TileImageBytes;
    float centred[kPasses][kChunkElements];
    float largest = 0.f;
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass)
    {
        const int row = threadIdx.x / kRowChunks + pass * kImageRowsPerPass;
        bool valid;
        const uint4 bits = centroid_chunk(centroids, g, k, tile, row, chunk, valid);
        const element_t* elements = (const element_t*)&bits;
        float norm = 0.f;
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e)
        {
            centred[pass][e] = valid ? element_to_float(elements[e]) - mean[g * kHeadDim + chunk * kChunkElements + e] : 0.f;
            norm += centred[pass][e] * centred[pass][e];
            largest = nan_max(fabsf(centred[pass][e]), largest);
        }
        norm = row_sum(norm);
        if (chunk == 0) ((float*)(tile_image + kFp8TileBytes))[row] = valid ? -0.5f * norm : negative_infinity();
    }
    for (int offset = kWarpSize / 2; offset > 0; offset /= 2) largest = nan_max(__shfl_xor_sync(kFullMask, largest, offset), largest);
    if (threadIdx.x % kWarpSize == 0) warp_largest[threadIdx.x / kWarpSize] = largest;
    __syncthreads();
#pragma unroll
    for (int w = 0; w < kImageThreads / kWarpSize; ++w) largest = nan_max(warp_largest[w], largest);
    // As Fp8Quantizer: an all-zero tile keeps scale 1; the divisions are correctly rounded.
    const float inverse = largest == 0.f ? 1.f : kE4M3Max / largest, scale = largest == 0.f ? 1.f : largest / kE4M3Max;
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass)
    {
        const int row = threadIdx.x / kRowChunks + pass * kImageRowsPerPass;
        float scaled[kChunkElements];
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e) scaled[e] = centred[pass][e] * inverse;
        *(uint2*)(tile_image + fp8_offset(row, chunk)) = to_e4m3(scaled);
        // Bytes past D (D < 128) are zeros, which add nothing to the products.
        if constexpr (kHeadDim < kFp8RowBytes) *(uint2*)(tile_image + fp8_offset(row, chunk + kRowChunks)) = make_uint2(0, 0);
    }
    if (threadIdx.x < kFp8ScaleBytes / sizeof(float)) ((float*)(tile_image + kFp8TileBytes + kTileBiasBytes))[threadIdx.x] = scale;
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

// Folds a 64-row block's scores of a tile into its rows' running bests: by the plain search where 'plain'
// (the warpgroup's points and the tile's centroids bounded, warp-uniform), else with NaN scores ranked first.
template <int Columns>
__device__ __forceinline__ void keep_block_best(float (&best)[2], int (&best_column)[2], const float (&score)[Columns / 2], int first_centroid,
                                                int valid_columns, bool plain)
{
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        const auto score_of = [&](int j, int e) { return score[4 * j + 2 * r + e]; };
        if (plain) keep_row_best<Columns / 4, false>(best[r], best_column[r], first_centroid, valid_columns, score_of);
        else keep_row_best<Columns / 4, true>(best[r], best_column[r], first_centroid, valid_columns, score_of);
    }
}

// Leaves an e4m3 block's scores x.c - |c|^2 / 2: S times the row's and the tile's scales, plus the column's bias.
template <int Columns>
__device__ __forceinline__ void scale_to_scores(float (&score)[Columns / 2], const float* tile_bias, const float (&row_factor)[2])
{
    const int lane = threadIdx.x % kWarpSize;
#pragma unroll
    for (int j = 0; j < Columns / 8; ++j)
    {
        const float2 bias = *(const float2*)(tile_bias + 8 * j + 2 * (lane % 4));
#pragma unroll
        for (int r = 0; r < 2; ++r)
        {
            score[4 * j + 2 * r] = fmaf(score[4 * j + 2 * r], row_factor[r], bias.x);
            score[4 * j + 2 * r + 1] = fmaf(score[4 * j + 2 * r + 1], row_factor[r], bias.y);
        }
    }
}


// Where a warpgroup's points are for the products: 16-bit panels, or e4m3 rows with their scales.
struct ConsumerPoints
{
    unsigned panels;          // shared address of the first 64-row block
    const float* row_scales;  // e4m3 only: the dequantisation scale of each of the kConsumerPoints rows
};

// One centroid tile of a warpgroup: its 64-row blocks in turn, the stage released after the last.
template <bool Fp8, int Columns>
__device__ __forceinline__ void nearest_in_tile(float (&best)[kRowBlocks][2], int (&best_column)[kRowBlocks][2], ConsumerPoints points,
                                                unsigned tile, const float* tile_bias, float tile_scale, int first_centroid, int valid_columns,
                                                bool plain, unsigned empty_barrier)
{
    const int row_in_block = (threadIdx.x % kWarpgroupThreads) / kWarpSize * 16 + threadIdx.x % kWarpSize / 4;
#pragma unroll
    for (int b = 0; b < kRowBlocks; ++b)
    {
        float score[Columns / 2];
        if constexpr (Fp8)
        {
            wgmma_fp8_rows_by_rows<Columns, kFp8KSteps>(score, points.panels + b * kWarpgroupRows * kFp8RowBytes, tile);
        }
        else
        {
            start_at_bias<Columns>(score, tile_bias);
            wgmma_rows_by_rows<Columns>(score, points.panels + b * kWarpgroupRows * kPanelRowBytes, kConsumerPoints, tile, kTileCentroids, true);
        }
        warpgroup_wait<0>();
        fence_registers(score);
        if (b == kRowBlocks - 1) barrier_arrive(empty_barrier);
        if constexpr (Fp8)
        {
            const float* scales = points.row_scales + b * kWarpgroupRows + row_in_block;
            const float row_factor[2] = {scales[0] * tile_scale, scales[8] * tile_scale};
            scale_to_scores<Columns>(score, tile_bias, row_factor);
        }
        keep_block_best<Columns>(best[b], best_column[b], score, first_centroid, valid_columns, plain);
    }
}

// nearest_in_tile with the narrowest width from 'Width' up that covers the tile's 'valid_columns' centroids: a last
// tile's products stop at its centroids rounded up to a tail width (the FP8 products at 64 or 128 columns).
template <bool Fp8, int Width>
__device__ __forceinline__ void nearest_in_covering_tile(float (&best)[kRowBlocks][2], int (&best_column)[kRowBlocks][2], ConsumerPoints points,
                                                         unsigned tile, const float* tile_bias, float tile_scale, int first_centroid,
                                                         int valid_columns, bool plain, unsigned empty_barrier)
{
    if constexpr (Width == kTileCentroids)
        nearest_in_tile<Fp8, Width>(best, best_column, points, tile, tile_bias, tile_scale, first_centroid, valid_columns, plain, empty_barrier);
    else if (valid_columns <= Width)
        nearest_in_tile<Fp8, Width>(best, best_column, points, tile, tile_bias, tile_scale, first_centroid, valid_columns, plain, empty_barrier);
    else
        nearest_in_covering_tile<Fp8, Fp8 ? kTileCentroids : Width + kTailStep>(best, best_column, points, tile, tile_bias, tile_scale,
                                                                                  first_centroid, valid_columns, plain, empty_barrier);
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

// A warpgroup's 16-bit points (panelled, at 'source') as e4m3 rows x - mean at 'destination', each scaled
// by 448 / its largest magnitude (as Fp8Quantizer per row: scale 1 for a zero row), and the rows' scales.
// Thread t converts chunk t % kRowChunks of rows t / kRowChunks + i x kRowsPerPass; a row's chunks
// are neighbouring lanes, which find its largest magnitude by shuffles.
__device__ __forceinline__ void points_to_fp8(const unsigned char* shared_base, unsigned source, unsigned destination, float* row_scales,
                                              const float* mean)
{
    constexpr int kRowsPerPass = kWarpgroupThreads / kRowChunks;
    static_assert(kWarpSize % kRowChunks == 0 && kConsumerPoints % kRowsPerPass == 0, "a row's chunks in one warp, whole passes");
    const int t = threadIdx.x % kWarpgroupThreads, chunk = t % kRowChunks;
    float centre[kChunkElements];
#pragma unroll
    for (int e = 0; e < kChunkElements; ++e) centre[e] = mean[chunk * kChunkElements + e];
    const unsigned base = shared_address(shared_base);
#pragma unroll 4
    for (int pass = 0; pass < kConsumerPoints / kRowsPerPass; ++pass)
    {
        const int row = t / kRowChunks + pass * kRowsPerPass;
        const uint4 bits = *(const uint4*)(shared_base + (source - base) + panel_offset(row, chunk, kConsumerPoints));
        const element_t* elements = (const element_t*)&bits;
        float x[kChunkElements];
        float largest = 0.f;
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e)
        {
            x[e] = element_to_float(elements[e]) - centre[e];
            largest = nan_max(fabsf(x[e]), largest);
        }
#pragma unroll
        for (int offset = 1; offset < kRowChunks; offset *= 2) largest = nan_max(__shfl_xor_sync(kFullMask, largest, offset), largest);
        const float inverse = largest == 0.f ? 1.f : kE4M3Max / largest;
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e) x[e] *= inverse;
        *(uint2*)(shared_base + (destination - base) + fp8_offset(row, chunk)) = to_e4m3(x);
        if (chunk == 0) row_scales[row] = largest == 0.f ? 1.f : largest / kE4M3Max;
    }
}

// Inputs for which no score x.c - |c|^2 / 2 can be NaN: every element of every point below 2^57 in
// magnitude (|x|^2 < D 2^114 <= 2^122 for D <= 256) and every centroid with |c|^2 <= 2^126 (bias >=
// -2^125) keep each product and every partial sum of the MMA below 2^127, so every score is finite and the
// plain search (coded scores, nearest_centroid.cuh) applies. Non-finite or huge inputs fail the bound and take
// the ranked search.
constexpr float kBoundedSquaredNorm = 0x1p126f;
static_assert(kHeadDim <= 256, "the points' element bound covers D <= 256");
// 16-bit magnitudes (sign cleared) from which a point element is out of bounds: 2^57 in bf16; fp16's
// largest finite value is far inside, so only infinities and NaNs (exponent all ones) are out.
constexpr unsigned kUnboundedMagnitude = SVG2_ELEMENT_FP16 ? 0x7C00u : 0x5C00u;
// Added to both cleared halves of a word, it carries into bit 15 of a half exactly when that half is
// at least kUnboundedMagnitude, and never into the next half (0x7FFF + it < 0x10000).
constexpr unsigned kMagnitudeCarry = (0x8000u - kUnboundedMagnitude) * 0x10001u;

// Whether every element this thread copied into its warpgroup's point area (copy_points: its chunk of
// rows first_row + i kRowsPerPass, as RowGather places them) is within the bound: 3 integer operations a
// word, no conversions. A thread's own cp.async copies are visible to it once waited for, so the check
// needs no barrier of its own: the warpgroup's vote rides on the barrier that publishes the points.
__device__ __forceinline__ bool copied_points_bounded(const unsigned char* shared_base, unsigned area)
{
    using Gather = RowGather<kConsumerPoints, kWarpgroupThreads>;
    const Gather gather;
    const unsigned char* first = shared_base + (area - shared_address(shared_base)) + gather.tile_offset;
    unsigned carries = 0;
#pragma unroll
    for (int pass = 0; pass < Gather::kPasses; ++pass)
    {
        const uint4 bits = *(const uint4*)(first + pass * Gather::kRowsPerPass * kPanelRowBytes);
        carries |= ((bits.x & 0x7FFF7FFFu) + kMagnitudeCarry) | ((bits.y & 0x7FFF7FFFu) + kMagnitudeCarry) |
                   ((bits.z & 0x7FFF7FFFu) + kMagnitudeCarry) | ((bits.w & 0x7FFF7FFFu) + kMagnitudeCarry);
    }
    return (carries & 0x80008000u) == 0;
}

// Whether every centroid of the tile is bounded (columns past the last centroid are). Every warp reads
// all kTileCentroids biases, so the warps of a warpgroup agree without a barrier.
__device__ __forceinline__ bool tile_bounded(const float* tile_bias, int valid_columns)
{
    static_assert(kTileCentroids == 4 * kWarpSize, "a float4 of biases a lane");
    const int column = 4 * (threadIdx.x % kWarpSize);
    const float4 bias = ((const float4*)tile_bias)[column / 4];
    const float bound = -0.5f * kBoundedSquaredNorm;
    const bool bounded = (column >= valid_columns || bias.x >= bound) && (column + 1 >= valid_columns || bias.y >= bound) &&
                         (column + 2 >= valid_columns || bias.z >= bound) && (column + 3 >= valid_columns || bias.w >= bound);
    return __all_sync(kFullMask, bounded);
}

// The assignment of both distance precisions: Fp8 converts each warpgroup's points before its tiles
// (the 'mean', [G, D] float32, is read only then) and multiplies in e4m3.
template <bool Fp8>
__device__ __forceinline__ void assign_nearest(const element_t* __restrict__ points, const float* __restrict__ mean, const unsigned char* __restrict__ image,
                                               int64* __restrict__ labels, int n, int group_rows, int k, int groups, unsigned char* shared)
{
    constexpr int kStageTileBytes = Fp8 ? kFp8TileBytes : kTileBytes;
    constexpr int kStageTailBytes = Fp8 ? kFp8TileTailBytes : kTileBiasBytes;
    constexpr int kImageTileBytes = kStageTileBytes + kStageTailBytes;
    const unsigned point_slots = aligned_shared_base(shared);
    const unsigned fp8_points = point_slots + kPointSlots * kItemBytes;         // Fp8 only: [consumers][rows x 128 B]
    const unsigned centroid_stages = fp8_points + (Fp8 ? kFp8ItemBytes : 0);
    const unsigned tail_stages = centroid_stages + kCentroidStages * kStageTileBytes;
    const unsigned row_scale_area = tail_stages + kCentroidStages * kStageTailBytes;  // Fp8 only: kItemPoints floats
    const unsigned full = row_scale_area + (Fp8 ? kItemPoints * sizeof(float) : 0);  // [kCentroidStages]: tile landed
    const unsigned empty = full + kCentroidStages * kBarrierBytes;           // [kCentroidStages]: tile read
    const unsigned base = shared_address(shared);
    const unsigned char* tails = shared + (tail_stages - base);
    float* row_scales = (float*)(shared + (row_scale_area - base));

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
        const unsigned char* source = image + ((int64)g * tiles + sequence % tiles) * kImageTileBytes;
        barrier_arrive_expect_bytes(full + stage * kBarrierBytes, kImageTileBytes);
        bulk_copy(centroid_stages + stage * kStageTileBytes, source, kStageTileBytes, full + stage * kBarrierBytes);
        bulk_copy(tail_stages + stage * kStageTailBytes, source + kStageTileBytes, kStageTailBytes, full + stage * kBarrierBytes);
    };
    if (tid == 0)
    {
        barrier_init_row(full, kCentroidStages, 1);
        barrier_init_row(empty, kCentroidStages, kAssignBlockThreads);
        barrier_init_fence();
    }
    if constexpr (Fp8 && kHeadDim < kFp8RowBytes)
    {
        // The bytes past D of every e4m3 point row stay zero; the conversions write only the first D.
        for (int word = tid; word < kFp8ItemBytes / 16; word += kAssignBlockThreads)
            *(uint4*)(shared + (fp8_points - base) + word * 16) = make_uint4(0, 0, 0, 0);
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
        // The plain search is open to this item where every point of the warpgroup is bounded (16-bit products only).
        const bool points_bounded = named_barrier_all(kWarpgroupBarrierBase + consumer, kWarpgroupThreads,
                                                      !Fp8 && copied_points_bounded(shared, slot + consumer * kConsumerBytes));
        ConsumerPoints consumer_points{slot + consumer * kConsumerBytes, nullptr};
        if constexpr (Fp8)
        {
            // This warpgroup's previous item finished its products (each tile waits for its wgmma), so its e4m3 rows are free.
            const unsigned converted = fp8_points + consumer * kFp8ConsumerBytes;
            points_to_fp8(shared, consumer_points.panels, converted, row_scales + consumer * kConsumerPoints, mean + (int64)g * kHeadDim);
            fence_async_shared();
            named_barrier_sync(kWarpgroupBarrierBase + consumer, kWarpgroupThreads);
            consumer_points = {converted, row_scales + consumer * kConsumerPoints};
        }
        // The points were written through the generic proxy; wgmma reads through the async one.
        fence_async_shared();

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
            const unsigned tile = centroid_stages + stage * kStageTileBytes;
            const float* tile_bias = (const float*)(tails + stage * kStageTailBytes);
            const float tile_scale = Fp8 ? tile_bias[kTileCentroids] : 1.f;
            const int valid_columns = k - first_centroid;
            const bool plain = points_bounded && tile_bounded(tile_bias, valid_columns);
            nearest_in_covering_tile<Fp8, kTailCentroids>(best, best_column, consumer_points, tile, tile_bias, tile_scale, first_centroid,
                                                          valid_columns, plain, stage_empty);
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

extern "C" __global__ void __launch_bounds__(kAssignBlockThreads, 1)
svg2_kmeans_assign_hopper(const element_t* __restrict__ points, const unsigned char* __restrict__ image, int64* __restrict__ labels,
                          int n, int group_rows, int k, int groups)
{
    extern __shared__ unsigned char assign_shared[];
    assign_nearest<false>(points, nullptr, image, labels, n, group_rows, k, groups, assign_shared);
}

extern "C" __global__ void __launch_bounds__(kAssignBlockThreads, 1)
svg2_kmeans_assign_hopper_fp8(const element_t* __restrict__ points, const float* __restrict__ mean, const unsigned char* __restrict__ image,
                              int64* __restrict__ labels, int n, int group_rows, int k, int groups)
{
    extern __shared__ unsigned char assign_shared[];
    assign_nearest<true>(points, mean, image, labels, n, group_rows, k, groups, assign_shared);
}
