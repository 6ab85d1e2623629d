// Counting sort of tokens by cluster id, batched over G problems: the stable permutation, cluster
// sizes and offsets in three passes over the labels, with integer atomics on shared memory only.
//
// The N tokens of a problem are cut into chunks of kSortChunk; one warp owns a chunk.
// svg2_label_histogram: grid (chunks, G); per-chunk label counts -> chunk_counts [G, chunks, C].
// svg2_cluster_offsets: grid (G), 1024 threads; turns chunk_counts into per-cluster exclusive
//   prefixes over chunks (in place), writes sizes and offsets (int64) of the first C clusters of a
//   layout of layout_clusters >= C: sizes [G, layout_clusters], offsets [G, layout_clusters + 1]
//   (entries 0 .. C), so clusters after C (text blocks) keep the values written once by the caller.
// svg2_stable_scatter: grid (chunks, G); each warp walks its chunk in token order, 32 tokens at a
//   time, ranks equal labels with __match_any_sync and writes permutation[offset + rank] = token, so
//   the permutation is stable (original order inside a cluster). Both per-chunk kernels load all of a
//   chunk's labels before using any (kChunkLabelsPerLane a lane). A group's permutation is
//   permutation_group_rows >= N entries apart; its entries N and later are the caller's.
// Traffic: labels read twice, permutation written once, chunk_counts written and read twice.
#include "common.cuh"

#ifndef SVG2_SORT_CHUNK
#error "SVG2_SORT_CHUNK must be defined (CountingSortTraits)"
#endif
#ifndef SVG2_SORT_OFFSETS_THREADS
#error "SVG2_SORT_OFFSETS_THREADS must be defined (CountingSortTraits)"
#endif

constexpr int kSortChunk = SVG2_SORT_CHUNK;
constexpr int kOffsetsThreads = SVG2_SORT_OFFSETS_THREADS;
constexpr int kOffsetsBatch = 8;                     // chunk counts of a cluster loaded at once
constexpr int kChunkLabelsPerLane = kSortChunk / kWarpSize;
static_assert(kSortChunk % kWarpSize == 0, "a chunk is whole warp-wide steps");

// Lane l's labels of a chunk, tokens begin + 32 i + l (-1 past its end), all loaded before any is used, so that no
// step of the chunk's loop waits for its own load (a few microseconds a sort at Wan 480p and 720p).
__device__ __forceinline__ void load_chunk_labels(const int64* __restrict__ group_labels, int begin, int end, int (&label)[kChunkLabelsPerLane])
{
#pragma unroll
    for (int i = 0; i < kChunkLabelsPerLane; ++i)
    {
        const int token = begin + i * kWarpSize + threadIdx.x % kWarpSize;
        label[i] = token < end ? (int)group_labels[token] : -1;
    }
}

extern "C" __global__ void __launch_bounds__(kWarpSize)
svg2_label_histogram(const int64* __restrict__ labels, int* __restrict__ chunk_counts, int n, int clusters, int chunks)
{
    extern __shared__ int counts[];
    const int chunk = blockIdx.x, g = blockIdx.y;
    for (int c = threadIdx.x; c < clusters; c += kWarpSize) counts[c] = 0;
    __syncwarp();
    const int begin = chunk * kSortChunk, end = min(n, begin + kSortChunk);
    int label[kChunkLabelsPerLane];
    load_chunk_labels(labels + (int64)g * n, begin, end, label);
#pragma unroll
    for (int i = 0; i < kChunkLabelsPerLane; ++i)
        if (label[i] >= 0) atomicAdd(&counts[label[i]], 1);
    __syncwarp();
    int* out = chunk_counts + ((int64)g * chunks + chunk) * clusters;
    for (int c = threadIdx.x; c < clusters; c += kWarpSize) out[c] = counts[c];
}

extern "C" __global__ void __launch_bounds__(kOffsetsThreads)
svg2_cluster_offsets(int* __restrict__ chunk_counts, int64* __restrict__ sizes, int64* __restrict__ offsets, int clusters, int chunks,
                     int layout_clusters)
{
    extern __shared__ int totals[];
    const int g = blockIdx.x;
    int* counts = chunk_counts + (int64)g * chunks * clusters;
    for (int c = threadIdx.x; c < clusters; c += kOffsetsThreads)
    {
        int running = 0;
        for (int first = 0; first < chunks; first += kOffsetsBatch)
        {
            // A batch's loads are issued together: with the in-place stores between them, each load
            // would otherwise wait for the store before it.
            int value[kOffsetsBatch];
#pragma unroll
            for (int i = 0; i < kOffsetsBatch; ++i) value[i] = first + i < chunks ? counts[(int64)(first + i) * clusters + c] : 0;
#pragma unroll
            for (int i = 0; i < kOffsetsBatch; ++i)
                if (first + i < chunks)
                {
                    counts[(int64)(first + i) * clusters + c] = running;
                    running += value[i];
                }
        }
        totals[c] = running;
        sizes[(int64)g * layout_clusters + c] = running;
    }
    __syncthreads();
    if (threadIdx.x < kWarpSize)
    {
        int total = warp_exclusive_scan_in_place(totals, clusters);
        if (threadIdx.x == 0) offsets[(int64)g * (layout_clusters + 1) + clusters] = total;
    }
    __syncthreads();
    for (int c = threadIdx.x; c < clusters; c += kOffsetsThreads) offsets[(int64)g * (layout_clusters + 1) + c] = totals[c];
}

extern "C" __global__ void __launch_bounds__(kWarpSize)
svg2_stable_scatter(const int64* __restrict__ labels, const int* __restrict__ chunk_counts, const int64* __restrict__ offsets,
                    int64* __restrict__ permutation, int n, int clusters, int chunks, int permutation_group_rows, int layout_clusters)
{
    extern __shared__ int next[];
    const int chunk = blockIdx.x, g = blockIdx.y, lane = threadIdx.x;
    const int* prefix = chunk_counts + ((int64)g * chunks + chunk) * clusters;
    const int64* group_offsets = offsets + (int64)g * (layout_clusters + 1);
    const int begin = chunk * kSortChunk, end = min(n, begin + kSortChunk);
    int label[kChunkLabelsPerLane];
    load_chunk_labels(labels + (int64)g * n, begin, end, label);
    for (int c = lane; c < clusters; c += kWarpSize) next[c] = (int)group_offsets[c] + prefix[c];
    __syncwarp();
#pragma unroll
    for (int i = 0; i < kChunkLabelsPerLane; ++i)
    {
        const int token = begin + i * kWarpSize + lane;
        const bool valid = label[i] >= 0;
        const unsigned peers = __match_any_sync(kFullMask, label[i]);
        const int rank = __popc(peers & ((1u << lane) - 1u));
        const int leader = __ffs(peers) - 1;
        const int position = valid ? next[label[i]] + rank : 0;
        __syncwarp();
        if (valid && lane == leader) next[label[i]] += __popc(peers);
        __syncwarp();
        if (valid) permutation[(int64)g * permutation_group_rows + position] = token;
    }
}
