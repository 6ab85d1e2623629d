// K-means kernels (Lloyd's algorithm, batched over G independent problems).
//
// svg2_centroid_norms: one warp per centroid row, |c|^2 in fp32.
// svg2_kmeans_assign:  grid (ceil(N / 128), G), 4 warps; each warp owns 32 points whose A fragments
//   stay in registers for the whole kernel; centroids stream through shared memory in 64-row tiles
//   (double-buffered cp.async, swizzled, with their 64 norms) and the 16 x 64 dot products of a
//   tile are bf16/fp16 mma.sync m16n8k16 with fp32 accumulation, started from -|c|^2 / 2 so that
//   they end as the score x.c - |c|^2 / 2 (the distance is |x|^2 - 2 x score, |x|^2 the same for
//   every centroid); a pairwise tree finds each row's best of the tile (depth 4 instead of a
//   16-long dependent chain) and a running argmax keeps the nearest, so the N x K distance matrix
//   is never written; a NaN distance wins, as in torch.argmin (nearest_centroid.cuh). Traffic:
//   points read once; every block reads all K centroids (from L2).
// svg2_segment_means: one block of 4 warps per cluster sums its members in permuted order (the
//   counting sort of layout.cu provides the permutation and offsets), so no float atomics and a
//   fixed summation order; a lane reads one 16-byte chunk of a row, 2 (D 128) or 4 (D 64) rows a
//   load per warp; empty clusters keep their previous centroid. svg2_segment_means_wide:
//   the same with 8 warps, for clusters of 128 members or more on average.
// Strides: a group's points are group_rows >= N rows apart (point_group_rows in the means), so the N
// clustered rows can lead a longer sequence (video rows before text rows). The layout the means read
// may be longer too: permutation_group_rows >= N entries per group, and layout_clusters >= K
// clusters whose first K are the k-means clusters.
#include "nearest_centroid.cuh"
#include "segment_means.cuh"

#ifndef SVG2_KMEANS_ASSIGN_WARPS
#error "SVG2_KMEANS_ASSIGN_WARPS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_ASSIGN_ROW_TILES
#error "SVG2_KMEANS_ASSIGN_ROW_TILES must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_ASSIGN_MIN_BLOCKS
#error "SVG2_KMEANS_ASSIGN_MIN_BLOCKS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_CENTROID_TILE
#error "SVG2_KMEANS_CENTROID_TILE must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_NORM_WARPS
#error "SVG2_KMEANS_NORM_WARPS must be defined (KMeansTraits)"
#endif

constexpr int kAssignWarps = SVG2_KMEANS_ASSIGN_WARPS;
constexpr int kAssignThreads = kAssignWarps * kWarpSize;
constexpr int kMmaRows = 16;                                   // rows of one m16n8k16 tile
constexpr int kAssignMTiles = SVG2_KMEANS_ASSIGN_ROW_TILES;     // row tiles per warp share each centroid fragment
constexpr int kPointsPerWarp = kAssignMTiles * kMmaRows;
constexpr int kPointsPerBlock = kAssignWarps * kPointsPerWarp;
constexpr int kAssignMinBlocks = SVG2_KMEANS_ASSIGN_MIN_BLOCKS;
constexpr int kCentroidTile = SVG2_KMEANS_CENTROID_TILE;
constexpr int kCentroidPairs = kCentroidTile / 16;             // ldmatrix.x4 loads two 8-column tiles
constexpr int kArgmaxCandidates = kCentroidTile / 4;           // columns of a tile one lane holds per row
constexpr int kKSteps = kHeadDim / 16;
constexpr int kNormWarps = SVG2_KMEANS_NORM_WARPS;

extern "C" __global__ void __launch_bounds__(kNormWarps * kWarpSize)
svg2_centroid_norms(const element_t* __restrict__ centroids, float* __restrict__ norms, int rows)
{
    const int row = blockIdx.x * kNormWarps + threadIdx.x / kWarpSize;
    const int lane = threadIdx.x % kWarpSize;
    if (row >= rows) return;
    const element_t* c = centroids + (int64)row * kHeadDim;
    float sum = 0.f;
    for (int d = lane; d < kHeadDim; d += kWarpSize)
    {
        float x = element_to_float(c[d]);
        sum += x * x;
    }
    sum = warp_sum(sum);
    if (lane == 0) norms[row] = sum;
}

constexpr int kAssignRowsPerPass = kAssignThreads / kRowChunks;
static_assert(kAssignThreads % kRowChunks == 0 && kCentroidTile % kAssignRowsPerPass == 0, "whole rows per pass");
static_assert(kCentroidTile <= kAssignThreads, "one thread per norm of a tile");

// Thread t copies chunk t % kRowChunks of rows t / kRowChunks + i x kAssignRowsPerPass (fixed chunk
// and swizzle term); the first kCentroidTile threads also copy one norm each.
__device__ __forceinline__ void load_centroid_tile(unsigned tile, unsigned tile_norms, const element_t* centroids, const float* norms,
                                                   int first, int count)
{
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kCentroidTile / kAssignRowsPerPass; ++i)
    {
        const int row = first_row + i * kAssignRowsPerPass;
        const bool valid = first + row < count;
        const element_t* source = centroids + (int64)(valid ? first + row : 0) * kHeadDim + chunk * kChunkElements;
        copy_async_16(tile + tile_offset(row, chunk), source, valid);
    }
    if (threadIdx.x < kCentroidTile)
    {
        const bool valid = first + threadIdx.x < count;
        copy_async_4(tile_norms + threadIdx.x * sizeof(float), norms + (valid ? first + threadIdx.x : 0), valid);
    }
}

extern "C" __global__ void __launch_bounds__(kAssignThreads, kAssignMinBlocks)
svg2_kmeans_assign(const element_t* __restrict__ points, const element_t* __restrict__ centroids,
                   const float* __restrict__ centroid_norms, int64* __restrict__ labels, int n, int group_rows, int k)
{
    extern __shared__ __align__(128) unsigned char shared[];
    const unsigned point_tile = shared_address(shared);
    const unsigned centroid_tiles = point_tile + kPointsPerBlock * kRowBytes;
    const int tile_bytes = kCentroidTile * kRowBytes;
    const unsigned norm_tiles = centroid_tiles + 2 * tile_bytes;
    const float* tile_norms = (const float*)(shared + (norm_tiles - point_tile));

    const int g = blockIdx.y;
    const int first_point = blockIdx.x * kPointsPerBlock;
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    const element_t* group_points = points + (int64)g * group_rows * kHeadDim;
    const element_t* group_centroids = centroids + (int64)g * k * kHeadDim;
    const float* norms = centroid_norms + (int64)g * k;

    for (int c = threadIdx.x; c < kPointsPerBlock * kRowChunks; c += kAssignThreads)
    {
        int row = c / kRowChunks, chunk = c % kRowChunks;
        bool valid = first_point + row < n;
        const element_t* source = group_points + (int64)(valid ? first_point + row : 0) * kHeadDim + chunk * kChunkElements;
        copy_async_16(point_tile + tile_offset(row, chunk), source, valid);
    }
    copy_async_commit();
    load_centroid_tile(centroid_tiles, norm_tiles, group_centroids, norms, 0, k);
    copy_async_commit();
    copy_async_wait<1>();
    __syncthreads();

    unsigned a[kAssignMTiles][kKSteps][4];
#pragma unroll
    for (int m = 0; m < kAssignMTiles; ++m)
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk)
            load_matrix_x4(a[m][kk], point_tile + tile_offset(warp * kPointsPerWarp + m * kMmaRows + lane % 16, kk * 2 + lane / 16));

    // Per m tile, rows lane/4 and lane/4 + 8 of this thread: the best score x.c - |c|^2 / 2 (the
    // nearest centroid has the largest) and its column.
    float best[kAssignMTiles][2];
    int best_index[kAssignMTiles][2];
#pragma unroll
    for (int m = 0; m < kAssignMTiles; ++m)
        best[m][0] = best[m][1] = negative_infinity(), best_index[m][0] = best_index[m][1] = 0;
    // The swizzle term of every centroid row this lane addresses with ldmatrix is lane % 8.
    const int swizzle = ((lane / 8) % 2) ^ (lane % 8);
    const int tiles = (k + kCentroidTile - 1) / kCentroidTile;
    for (int t = 0; t < tiles; ++t)
    {
        if (t + 1 < tiles)
            load_centroid_tile(centroid_tiles + ((t + 1) % 2) * tile_bytes, norm_tiles + ((t + 1) % 2) * kCentroidTile * sizeof(float),
                               group_centroids, norms, (t + 1) * kCentroidTile, k);
        copy_async_commit();
        copy_async_wait<1>();
        __syncthreads();

        const unsigned tile_rows = centroid_tiles + (t % 2) * tile_bytes + (lane % 8 + (lane / 16) * 8) * kRowBytes;
        // The accumulators start at -|c|^2 / 2 (-inf past the last centroid), so the MMAs leave the
        // score x.c - |c|^2 / 2 = -(distance - |x|^2) / 2 and the epilogue is a bare running argmax.
        float dot[kAssignMTiles][kCentroidTile / 8][4];
#pragma unroll
        for (int j = 0; j < kCentroidTile / 8; ++j)
#pragma unroll
            for (int e = 0; e < 2; ++e)
            {
                const int column = j * 8 + 2 * (lane % 4) + e;
                const float bias = t * kCentroidTile + column < k ? -0.5f * tile_norms[(t % 2) * kCentroidTile + column] : negative_infinity();
#pragma unroll
                for (int m = 0; m < kAssignMTiles; ++m) dot[m][j][e] = dot[m][j][2 + e] = bias;
            }
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk)
#pragma unroll
            for (int pair = 0; pair < kCentroidPairs; ++pair)
            {
                unsigned b[4];
                load_matrix_x4(b, tile_rows + pair * 16 * kRowBytes + (((kk * 2) ^ swizzle) << 4));
#pragma unroll
                for (int m = 0; m < kAssignMTiles; ++m)
                {
                    mma_16x8x16(dot[m][2 * pair], a[m][kk], b[0], b[1]);
                    mma_16x8x16(dot[m][2 * pair + 1], a[m][kk], b[2], b[3]);
                }
            }
#pragma unroll
        for (int m = 0; m < kAssignMTiles; ++m)
#pragma unroll
            for (int r = 0; r < 2; ++r)
                keep_row_best<kArgmaxCandidates>(best[m][r], best_index[m][r], t * kCentroidTile, k - t * kCentroidTile,
                                                 [&](int j, int e) { return dot[m][j][2 * r + e]; });
        __syncthreads();
    }

#pragma unroll
    for (int m = 0; m < kAssignMTiles; ++m)
#pragma unroll
        for (int r = 0; r < 2; ++r)
        {
            const int point = first_point + warp * kPointsPerWarp + m * kMmaRows + lane / 4 + r * 8;
            store_nearest(best[m][r], best_index[m][r], labels + (int64)g * n + point, point < n);
        }
}

extern "C" __global__ void __launch_bounds__(kMeanWarps * kWarpSize) svg2_segment_means(SVG2_SEGMENT_MEANS_PARAMETERS)
{
    segment_means<kMeanWarps>(SVG2_SEGMENT_MEANS_ARGUMENTS, NoRowCallback{});
}

// For large clusters (on average at least 128 members): twice the warps shorten each cluster's
// chain of dependent loads; on small clusters the extra warps idle.
extern "C" __global__ void __launch_bounds__(kWideMeanWarps * kWarpSize) svg2_segment_means_wide(SVG2_SEGMENT_MEANS_PARAMETERS)
{
    segment_means<kWideMeanWarps>(SVG2_SEGMENT_MEANS_ARGUMENTS, NoRowCallback{});
}
