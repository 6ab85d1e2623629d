// Two selections of key clusters, each one block of 256 threads per (problem g, query cluster i).
//
// svg2_select_key_clusters, the top-p selection of critical key clusters:
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
//
// svg2_select_by_error, the selection of error-aware routing (Svg2.Algorithm.ErrorAwareSelection):
// block (i, j) is kept when its score E_ij reaches the threshold, or when j ranks among the
// min_kept largest scores of row i (ties in cluster-id order, as a stable descending sort ranks them).
//   1. the row's float64 scores to order-preserving 64-bit keys in shared memory (-0 as +0)
//   2. the min_kept-th largest key by radix select: 8 passes of 8-bit digits, most significant first,
//      each a 256-bin shared histogram of the keys still matching the prefix and a warp scan of it
//   3. ties with that key ranked in cluster order by a block scan over contiguous per-thread ranges
//   4. mask[g, i, :] = ranked || E >= threshold (bool bytes; a NaN score is never >= the threshold)
// A NaN score in a row voids its ranked part, as the reference's NaN-propagating top-k minimum does.
// Traffic: the row's KC scores read twice (the second from L2), KC bytes of mask written.
#include "common.cuh"

#ifndef SVG2_SELECT_WARPS
#error "SVG2_SELECT_WARPS must be defined (SelectionTraits)"
#endif

constexpr int kSelectWarps = SVG2_SELECT_WARPS;
constexpr int kSelectThreads = kSelectWarps * kWarpSize;
constexpr float kMinimumMass = 1e-12f;

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
    const float maximum = block_reduce<kSelectWarps>(local_max, scratch, [](float a, float b) { return fmaxf(a, b); });

    float local_sum = 0.f;
    for (int j = threadIdx.x; j < kc; j += kSelectThreads)
    {
        float weight = (float)sizes[j] * expf(scores[j] - maximum);
        scores[j] = weight;
        local_sum += weight;
    }
    // A NaN weight (a NaN or infinite score) makes the sum NaN, and then every P, as in the reference,
    // whose maximum propagates NaN: fmaxf would drop it and leave the finite columns' P finite.
    const float sum = block_reduce<kSelectWarps>(local_sum, scratch, [](float a, float b) { return a + b; });
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

constexpr int kRadixDigitBits = 8;
constexpr int kRadixBins = 1 << kRadixDigitBits;
constexpr int kKeyBits = 64;
constexpr int kBinsPerLane = kRadixBins / kWarpSize;
static_assert(kBinsPerLane * kWarpSize == kRadixBins, "every lane scans the same number of bins");

// A float64 as a 64-bit key whose unsigned order is the numbers' order; -0 maps to +0's key, since
// the two compare equal.
__device__ __forceinline__ unsigned long long ordered_key(double value)
{
    const unsigned long long bits = (unsigned long long)__double_as_longlong(value == 0.0 ? 0.0 : value);
    const unsigned long long sign = 1ull << (kKeyBits - 1);
    return (bits & sign) ? ~bits : bits | sign;
}

extern "C" __global__ void __launch_bounds__(kSelectThreads)
svg2_select_by_error(const double* __restrict__ scores, unsigned char* __restrict__ mask,
                     int qc, int kc, int mask_rows, int mask_columns, int min_kept, double threshold)
{
    extern __shared__ __align__(16) unsigned char shared[];
    unsigned long long* keys = (unsigned long long*)shared;
    __shared__ int histogram[kRadixBins];
    __shared__ int tie_counts[kSelectThreads];
    __shared__ unsigned long long chosen_prefix;
    __shared__ int chosen_remaining;

    const int i = blockIdx.x, g = blockIdx.y;
    const double* row = scores + ((int64)g * qc + i) * kc;
    bool local_nan = false;
    for (int j = threadIdx.x; j < kc; j += kSelectThreads)
    {
        const double value = row[j];
        local_nan |= is_nan(value);
        keys[j] = ordered_key(value);
    }
    const bool row_has_nan = __syncthreads_or(local_nan);

    // Radix select of the kept-th largest key: 'remaining' counts how many of the keys matching the
    // prefix, from the largest down, the kept ones still need.
    const int kept = min(max(min_kept, 1), kc);
    unsigned long long prefix = 0, prefix_mask = 0;
    int remaining = kept;
    for (int shift = kKeyBits - kRadixDigitBits; shift >= 0 && !row_has_nan; shift -= kRadixDigitBits)
    {
        for (int b = threadIdx.x; b < kRadixBins; b += kSelectThreads) histogram[b] = 0;
        __syncthreads();
        for (int j = threadIdx.x; j < kc; j += kSelectThreads)
            if ((keys[j] & prefix_mask) == prefix) atomicAdd(&histogram[(keys[j] >> shift) & (kRadixBins - 1)], 1);
        __syncthreads();
        if (threadIdx.x < kWarpSize)
        {
            // Lane l holds the digits 255 - 8l down to 248 - 8l: lanes in descending digit order.
            const int lane = threadIdx.x;
            int counts[kBinsPerLane], lane_total = 0;
            for (int t = 0; t < kBinsPerLane; ++t)
            {
                counts[t] = histogram[kRadixBins - 1 - kBinsPerLane * lane - t];
                lane_total += counts[t];
            }
            const int inclusive = warp_inclusive_scan(lane_total);
            // The matching keys number at least 'remaining', so some lane reaches it.
            const int first = __ffs(__ballot_sync(kFullMask, inclusive >= remaining)) - 1;
            if (lane == first)
            {
                int before = inclusive - lane_total, t = 0;
                while (before + counts[t] < remaining) before += counts[t++];
                const unsigned long long digit = (unsigned long long)(kRadixBins - 1 - kBinsPerLane * lane - t);
                chosen_prefix = prefix | (digit << shift);
                chosen_remaining = remaining - before;
            }
        }
        __syncthreads();
        prefix = chosen_prefix;
        remaining = chosen_remaining;
        prefix_mask |= (unsigned long long)(kRadixBins - 1) << shift;
    }
    // Now 'prefix' is the kept-th largest key and 'remaining' the ties with it to keep, the first in cluster order.

    const int span = (kc + kSelectThreads - 1) / kSelectThreads;
    const int begin = min(threadIdx.x * span, kc), end = min(begin + span, kc);
    int ties = 0;
    for (int j = begin; j < end; ++j) ties += keys[j] == prefix;
    tie_counts[threadIdx.x] = ties;
    __syncthreads();
    if (threadIdx.x < kWarpSize) warp_exclusive_scan_in_place(tie_counts, kSelectThreads);
    __syncthreads();

    int tie_rank = tie_counts[threadIdx.x];
    unsigned char* out = mask + ((int64)g * mask_rows + i) * mask_columns;
    for (int j = begin; j < end; ++j)
    {
        bool ranked = false;
        if (!row_has_nan)
        {
            if (keys[j] > prefix) ranked = true;
            else if (keys[j] == prefix) ranked = tie_rank++ < remaining;
        }
        out[j] = ranked || row[j] >= threshold ? 1 : 0;
    }
}
