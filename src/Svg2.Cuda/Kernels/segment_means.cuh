// The member means of k-means clusters in permuted order (kmeans.cu and, writing the assignment's centroid
// tile image too, kmeans_hopper.cu).
#pragma once
#include "common.cuh"

#ifndef SVG2_KMEANS_MEAN_WARPS
#error "SVG2_KMEANS_MEAN_WARPS must be defined (KMeansTraits)"
#endif
#ifndef SVG2_KMEANS_WIDE_MEAN_WARPS
#error "SVG2_KMEANS_WIDE_MEAN_WARPS must be defined (KMeansTraits)"
#endif

constexpr int kMeanWarps = SVG2_KMEANS_MEAN_WARPS;           // warps per cluster
constexpr int kWideMeanWarps = SVG2_KMEANS_WIDE_MEAN_WARPS;  // for clusters of 128 members or more on average

// The segment means with 'Warps' warps per cluster. A lane holds one 16-byte chunk of a row, so a warp
// reads kRowsPerLoad (2 at D 128, 4 at D 64) members' rows per load, and the warps interleave by those
// groups, several loads in flight per lane. The sums have a fixed order: per lane over its rows, then
// the row lanes of a chunk by xor shuffles, then the warps in order. Where WithRow::kReadsRow, 'with_row(row, cluster, g)'
// is then called by every thread with the written centroid row in shared memory (the Hopper family writes its tile image).
template <int Warps, class WithRow>
__device__ __forceinline__ void segment_means(const element_t* __restrict__ points, const int64* __restrict__ permutation,
                                              const int64* __restrict__ offsets, const element_t* previous, element_t* centroids,
                                              int point_group_rows, int permutation_group_rows, int k, int layout_clusters, WithRow with_row)
{
    constexpr int kRowsPerLoad = kWarpSize / kRowChunks;
    __shared__ float partial[Warps][kHeadDim];
    __shared__ __align__(16) element_t row[WithRow::kReadsRow ? kHeadDim : 1];
    // The groups in reverse: the assignment before walks them in order, so the last groups' points may still be in L2,
    // and the next iteration's assignment then starts on the groups read last here.
    const int cluster = blockIdx.x, g = gridDim.y - 1 - blockIdx.y;
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    const int row_lane = lane / kRowChunks, chunk = lane % kRowChunks;
    const int64 begin = offsets[(int64)g * (layout_clusters + 1) + cluster];
    const int64 end = offsets[(int64)g * (layout_clusters + 1) + cluster + 1];
    const element_t* group_points = points + (int64)g * point_group_rows * kHeadDim + chunk * kChunkElements;
    const int64* group_permutation = permutation + (int64)g * permutation_group_rows;

    float sum[kChunkElements];
#pragma unroll
    for (int e = 0; e < kChunkElements; ++e) sum[e] = 0.f;
#pragma unroll 8
    for (int64 s = begin + warp * kRowsPerLoad + row_lane; s < end; s += Warps * kRowsPerLoad)
    {
        const uint4 bits = *(const uint4*)(group_points + group_permutation[s] * kHeadDim);
        const unsigned words[4] = {bits.x, bits.y, bits.z, bits.w};
#pragma unroll
        for (int w = 0; w < 4; ++w)
        {
            sum[2 * w] += element_to_float((element_t)(words[w] & 0xffffu));
            sum[2 * w + 1] += element_to_float((element_t)(words[w] >> 16));
        }
    }
#pragma unroll
    for (int offset = kRowChunks; offset < kWarpSize; offset *= 2)
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e) sum[e] += __shfl_xor_sync(kFullMask, sum[e], offset);
    if (row_lane == 0)
#pragma unroll
        for (int e = 0; e < kChunkElements; ++e) partial[warp][chunk * kChunkElements + e] = sum[e];
    __syncthreads();

    const int64 count = end - begin;
    element_t* out = centroids + ((int64)g * k + cluster) * kHeadDim;
    const element_t* old = previous + ((int64)g * k + cluster) * kHeadDim;
    for (int d = threadIdx.x; d < kHeadDim; d += Warps * kWarpSize)
    {
        element_t value;
        if (count == 0)
            value = old[d];
        else
        {
            float total = 0.f;
#pragma unroll
            for (int w = 0; w < Warps; ++w) total += partial[w][d];
            value = float_to_element(total / (float)count);
        }
        out[d] = value;
        if constexpr (WithRow::kReadsRow) row[d] = value;
    }
    if constexpr (WithRow::kReadsRow)
    {
        __syncthreads();
        with_row(row, cluster, g);
    }
}

// The row callback of the plain member means: none, so they keep no row in shared memory.
struct NoRowCallback
{
    static constexpr bool kReadsRow = false;
    __device__ __forceinline__ void operator()(const element_t*, int, int) const {}
};

// The parameters of the segment-means kernels (4 or 8 warps, kmeans.cu; with the tile image, kmeans_hopper.cu) and
// their arguments to segment_means.
#define SVG2_SEGMENT_MEANS_PARAMETERS                                                                                     \
    const element_t* __restrict__ points, const int64* __restrict__ permutation, const int64* __restrict__ offsets,     \
        const element_t* previous, element_t* centroids, int point_group_rows, int permutation_group_rows, int k,         \
        int layout_clusters
#define SVG2_SEGMENT_MEANS_ARGUMENTS points, permutation, offsets, previous, centroids, point_group_rows, permutation_group_rows, k, layout_clusters
