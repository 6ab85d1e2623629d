// Selection of critical key clusters: per (problem g, query cluster i) one block of 256 threads.
//   1. scores s_j = <cq_i, ck_j> * scale, one warp per key centroid (coalesced row reads), fp32
//   2. size-weighted softmax P_j = |K_j| exp(s_j - max) / max(sum, 1e-12)
//   3. bitonic sort of (P desc, j asc) packed in 64-bit keys in shared memory (KC padded to a power of two)
//   4. top-p cut: rank m kept iff m == 0, or the mass ranked before it is <= top_p, or m < min_kept
//   5. mask[g, i, :] written in cluster-id order (bool bytes)
// The mask and the key sizes may belong to layouts with more clusters than QC and KC (text blocks
// after the video clusters): mask [G, mask_rows, mask_columns] and key sizes [G, mask_columns],
// of which the selection reads and writes the first QC rows and KC columns.
// In bf16-emulated mode the scores and probabilities are rounded to bf16, the prefix sums are
// accumulated in fp32 and each is rounded to bf16 before the comparison with bf16(top_p), as
// libtorch's cumsum of a bf16 tensor does (fp32 accumulator, bf16 outputs; same convention as
// Svg2.Algorithm.CriticalClusterSelection). Traffic: KC x D centroid reads per block
// (from L2), KC bytes of mask written.
#include "common.cuh"

#ifndef SVG2_SELECT_WARPS
#error "SVG2_SELECT_WARPS must be defined (SelectionTraits)"
#endif

constexpr int kSelectWarps = SVG2_SELECT_WARPS;
constexpr int kSelectThreads = kSelectWarps * kWarpSize;
constexpr float kMinimumMass = 1e-12f;

__device__ __forceinline__ float block_reduce(float value, float* scratch, bool is_max)
{
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    value = is_max ? warp_max(value) : warp_sum(value);
    __syncthreads();
    if (lane == 0) scratch[warp] = value;
    __syncthreads();
    float result = scratch[0];
    for (int w = 1; w < kSelectWarps; ++w) result = is_max ? fmaxf(result, scratch[w]) : result + scratch[w];
    return result;
}

extern "C" __global__ void __launch_bounds__(kSelectThreads)
svg2_select_key_clusters(const element_t* __restrict__ query_centroids, const element_t* __restrict__ key_centroids,
                         const int64* __restrict__ key_sizes, unsigned char* __restrict__ mask,
                         int qc, int kc, int mask_rows, int mask_columns, int padded, float top_p, int min_kept, float scale, int bf16_mode)
{
    extern __shared__ __align__(16) unsigned char shared[];
    unsigned long long* keys = (unsigned long long*)shared;
    float* scores = (float*)(keys + padded);
    float* query = scores + padded;
    __shared__ float scratch[kSelectWarps];
    __shared__ int kept;

    const int i = blockIdx.x, g = blockIdx.y;
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    const element_t* cq = query_centroids + ((int64)g * qc + i) * kHeadDim;
    const element_t* ck = key_centroids + (int64)g * kc * kHeadDim;
    const int64* sizes = key_sizes + (int64)g * mask_columns;
    for (int d = threadIdx.x; d < kHeadDim; d += kSelectThreads) query[d] = element_to_float(cq[d]);
    __syncthreads();

    for (int j = warp; j < kc; j += kSelectWarps)
    {
        float dot = 0.f;
        for (int d = lane; d < kHeadDim; d += kWarpSize) dot += query[d] * element_to_float(ck[(int64)j * kHeadDim + d]);
        dot = warp_sum(dot);
        if (lane == 0) scores[j] = bf16_mode ? round_to_bf16(dot * scale) : dot * scale;
    }
    __syncthreads();

    float local_max = negative_infinity();
    for (int j = threadIdx.x; j < kc; j += kSelectThreads) local_max = fmaxf(local_max, scores[j]);
    const float maximum = block_reduce(local_max, scratch, true);

    float local_sum = 0.f;
    for (int j = threadIdx.x; j < kc; j += kSelectThreads)
    {
        float weight = (float)sizes[j] * expf(scores[j] - maximum);
        scores[j] = weight;
        local_sum += weight;
    }
    // A NaN weight (a NaN or infinite score) makes the sum NaN, and then every P, as in the reference,
    // whose maximum propagates NaN: fmaxf would drop it and leave the finite columns' P finite.
    const float sum = block_reduce(local_sum, scratch, false);
    const float total = is_nan(sum) ? sum : fmaxf(sum, kMinimumMass);

    // Non-negative floats order like their bit patterns; inverting them sorts larger P first, and the
    // low word keeps ties in cluster-id order. Padding sorts last. A NaN P (a NaN or infinite score
    // makes the whole row NaN) takes the bits above +inf, so it sorts first as in the reference's
    // descending sort, ties in id order.
    for (int j = threadIdx.x; j < padded; j += kSelectThreads)
    {
        if (j < kc)
        {
            float p = scores[j] / total;
            if (bf16_mode) p = round_to_bf16(p);
            const unsigned bits = is_nan(p) ? 0x7fffffffu : __float_as_uint(p);
            keys[j] = ((unsigned long long)(~bits) << 32) | (unsigned)j;
        }
        else keys[j] = ~0ull;
    }
    block_bitonic_sort<kSelectThreads>(keys, padded);

    if (threadIdx.x == 0)
    {
        // The cumulative mass only grows, so the kept ranks are a prefix: find where it ends.
        // In bf16 mode each prefix is rounded to bf16 for the comparison; the sum itself stays fp32.
        // A rank is kept while its mass before is <= the threshold, so a NaN mass (a NaN row) keeps
        // only the first rank and the minimum, as the reference's comparison does.
        const float threshold = bf16_mode ? round_to_bf16(top_p) : top_p;
        float mass = 0.f;
        int by_mass = kc;
        for (int m = 0; m < kc; ++m)
        {
            const float before = bf16_mode ? round_to_bf16(mass) : mass;
            if (m > 0 && !(before <= threshold)) { by_mass = m; break; }
            mass += __uint_as_float(~(unsigned)(keys[m] >> 32));
        }
        kept = max(by_mass, min(min_kept, kc));
    }
    __syncthreads();

    unsigned char* row = mask + ((int64)g * mask_rows + i) * mask_columns;
    for (int m = threadIdx.x; m < kc; m += kSelectThreads) row[(unsigned)keys[m]] = m < kept ? 1 : 0;
}
