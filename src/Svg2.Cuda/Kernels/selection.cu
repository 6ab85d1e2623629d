// Three kernels of the selection of key clusters.
//
// svg2_centroid_dots, the centroid products the top-p selection ranks: dots[g, i, j] = <cq_i, ck_j> in
// fp32, one block of 256 threads per 64 x 64 tile of (query cluster, key cluster), each thread the 4 x 4
// dots of rows 4ty.. and columns 4tx.. (one float4 of each side per step: 2 shared reads per 16 FMAs),
// the head dimension staged in chunks of 32 as float32 in shared memory, transposed. The products of
// 16-bit inputs are exact in fp32 and every dot sums its head dimension in order. Traffic: each
// centroid read once per tile of the other side (from L2), G x QC x KC x 4 bytes written. (A block
// per query cluster reading all KC key centroids itself made the selection L2-bound: KC x D x 2 bytes
// per query cluster.)
//
// svg2_select_key_clusters, the top-p selection of critical key clusters, one block of 256 threads
// per (problem g, query cluster i):
//   1. scores s_j = dots[g, i, j] * scale (coalesced row read), fp32
//   2. size-weighted softmax P_j = |K_j| exp(s_j - max) / max(sum, 1e-12)
//   3. (P desc, j asc) packed in 64-bit keys; a 256-bin histogram of P's half octaves (count, mass)
//      picks the candidates, the highest bins that hold top_p's mass with a slack and min_kept keys
//   4. bitonic sort of the candidates only in shared memory (padded to a power of two): far fewer
//      than KC when the cut comes early, and a full sort of the 64-bit keys made the kernel bound by
//      shared-memory traffic
//   5. top-p cut: rank m kept iff m == 0, or the mass ranked before it is <= top_p, or m < min_kept;
//      should the candidates run out first, every key is sorted and ranked (the same result, slower)
//   6. mask[g, i, :] written in cluster-id order (bool bytes)
// The mask and the key sizes may belong to layouts with more clusters than QC and KC (text blocks
// after the video clusters): mask [G, mask_rows, mask_columns] and key sizes [G, mask_columns],
// of which the selection reads and writes the first QC rows and KC columns.
// In bf16-emulated mode the scores and probabilities are rounded to bf16, the prefix sums are
// accumulated in fp32 and each is rounded to bf16 before the comparison with bf16(top_p), as
// libtorch's cumsum of a bf16 tensor does (fp32 accumulator, bf16 outputs; same convention as
// Svg2.Algorithm.CriticalClusterSelection). The candidates are exactly the top ranks of the full
// order, so the result is the full sort's. Traffic: KC x 4 bytes of dots read and KC bytes of mask
// written per block.
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

#ifndef SVG2_DOT_TILE
#error "SVG2_DOT_TILE must be defined (SelectionTraits)"
#endif

constexpr int kSelectWarps = SVG2_SELECT_WARPS;
constexpr int kSelectThreads = kSelectWarps * kWarpSize;
constexpr float kMinimumMass = 1e-12f;

// The top-p selection sorts only candidates: the keys of the highest half-octave bins of P that hold
// the threshold's mass plus a slack for the rank-order sum's rounding (bf16 mode: half a bf16 ulp of
// numbers below 1, 2^-10, with room; fp32: 4x the sum's rounding bound KC x 2^-24 at KC = 1,000).
// A slack too thin for a row costs speed, not exactness: the candidates run out and every key is sorted.
constexpr int kCandidateBins = 256;
constexpr int kBinsPerSelectLane = kCandidateBins / kWarpSize;
constexpr float kBf16PrefixSlack = 1.0f / 256;
constexpr float kFloat32PrefixSlack = 1.0f / 4096;
static_assert(kBinsPerSelectLane * kWarpSize == kCandidateBins, "every lane scans the same number of bins");

// The bin of a probability's bit pattern: its exponent and first mantissa bit, so bin 254 holds
// [1, 1.5) and each bin below half the range of the one above; NaN's pattern takes the top bin.
__device__ __forceinline__ int candidate_bin(unsigned bits)
{
    constexpr int kBinShift = 22;
    return min((int)(bits >> kBinShift), kCandidateBins - 1);
}

constexpr int kDotTile = SVG2_DOT_TILE;                      // query and key clusters of a block's tile
constexpr int kDotDepth = 32;                                // head-dimension elements staged at a time
constexpr int kDotSide = 16;                                 // threads along each side of the tile
constexpr int kDotsPerSide = kDotTile / kDotSide;            // dots per thread along each side
constexpr int kDotStageParts = kSelectThreads / kDotTile;    // threads staging one row of a chunk
constexpr int kDotStageElements = kDotDepth / kDotStageParts; // elements each of them stages
static_assert(kDotSide * kDotSide == kSelectThreads, "a 16 x 16 thread grid covers the tile");
static_assert(kDotsPerSide == 4, "a thread's operands along each side are one float4");
static_assert(kHeadDim % kDotDepth == 0, "the head dimension is staged in whole chunks");
static_assert(kDotStageParts * kDotStageElements == kDotDepth, "the staging threads cover a chunk");

// Stages elements [depth, depth + kDotDepth) of rows [first, first + kDotTile) of 'rows' (count valid
// rows) into tile[d][row] as float32; rows past the end are zero. A warp stages 32 consecutive rows
// of one part of the chunk, so its transposed stores hit 32 banks.
__device__ __forceinline__ void stage_dot_operand(float (*tile)[kDotTile], const element_t* __restrict__ rows, int first, int count, int depth)
{
    const int row = threadIdx.x % kDotTile;
    const int column = (threadIdx.x / kDotTile) * kDotStageElements;
    const bool valid = first + row < count;
    const element_t* source = rows + (int64)(first + row) * kHeadDim + depth + column;
#pragma unroll
    for (int e = 0; e < kDotStageElements; ++e) tile[column + e][row] = valid ? element_to_float(source[e]) : 0.f;
}

extern "C" __global__ void __launch_bounds__(kSelectThreads)
svg2_centroid_dots(const element_t* __restrict__ query_centroids, const element_t* __restrict__ key_centroids, float* __restrict__ dots, int qc, int kc)
{
    __shared__ __align__(16) float query_tile[kDotDepth][kDotTile];
    __shared__ __align__(16) float key_tile[kDotDepth][kDotTile];
    const int key_tiles = (kc + kDotTile - 1) / kDotTile;
    const int first_query = (blockIdx.x / key_tiles) * kDotTile, first_key = (blockIdx.x % key_tiles) * kDotTile, g = blockIdx.y;
    const int tx = threadIdx.x % kDotSide, ty = threadIdx.x / kDotSide;
    const element_t* cq = query_centroids + (int64)g * qc * kHeadDim;
    const element_t* ck = key_centroids + (int64)g * kc * kHeadDim;

    float sums[kDotsPerSide][kDotsPerSide] = {};
    for (int depth = 0; depth < kHeadDim; depth += kDotDepth)
    {
        stage_dot_operand(query_tile, cq, first_query, qc, depth);
        stage_dot_operand(key_tile, ck, first_key, kc, depth);
        __syncthreads();
#pragma unroll 8
        for (int d = 0; d < kDotDepth; ++d)
        {
            const float4 a = *(const float4*)&query_tile[d][ty * kDotsPerSide];
            const float4 b = *(const float4*)&key_tile[d][tx * kDotsPerSide];
            const float av[kDotsPerSide] = {a.x, a.y, a.z, a.w}, bv[kDotsPerSide] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int r = 0; r < kDotsPerSide; ++r)
#pragma unroll
                for (int c = 0; c < kDotsPerSide; ++c) sums[r][c] = fmaf(av[r], bv[c], sums[r][c]);
        }
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < kDotsPerSide; ++r)
    {
        const int i = first_query + ty * kDotsPerSide + r;
        if (i >= qc) continue;
        float* row = dots + ((int64)g * qc + i) * kc;
#pragma unroll
        for (int c = 0; c < kDotsPerSide; ++c)
        {
            const int j = first_key + tx * kDotsPerSide + c;
            if (j < kc) row[j] = sums[r][c];
        }
    }
}

// The rank at which the top-p prefix of 'sorted' (count keys, P descending) ends: the first rank m > 0
// whose mass before it (fp32, in rank order; rounded to bf16 in bf16 mode) exceeds the threshold, or
// -1 when the keys run out first (the mass of all count keys is still within it). Run by one thread;
// the keys are read ahead in groups, since only the running sum is a dependent chain.
__device__ __forceinline__ int top_p_end(const unsigned long long* sorted, int count, float threshold, int bf16_mode)
{
    constexpr int kReadAhead = 8;
    float mass = 0.f;
    for (int base = 0; base <= count; base += kReadAhead)
    {
        float p[kReadAhead];
#pragma unroll
        for (int e = 0; e < kReadAhead; ++e) p[e] = base + e < count ? __uint_as_float(~(unsigned)(sorted[base + e] >> 32)) : 0.f;
#pragma unroll
        for (int e = 0; e < kReadAhead; ++e)
        {
            const int m = base + e;
            const float before = bf16_mode ? round_to_bf16(mass) : mass;
            if (m > 0 && !(before <= threshold)) return m;
            if (m == count) return -1;
            mass += p[e];
        }
    }
    return -1;
}

extern "C" __global__ void __launch_bounds__(kSelectThreads)
svg2_select_key_clusters(const float* __restrict__ dots, const int64* __restrict__ key_sizes, unsigned char* __restrict__ mask,
                         int qc, int kc, int mask_rows, int mask_columns, int padded, float top_p, int min_kept, float scale, int bf16_mode)
{
    extern __shared__ __align__(16) unsigned char shared[];
    unsigned long long* keys = (unsigned long long*)shared;       // every key cluster's key, in id order
    unsigned long long* candidates = keys + padded;                 // the candidates, sorted
    float* scores = (float*)candidates;                             // the scores, until the keys are made
    __shared__ float scratch[kSelectWarps];
    __shared__ int bin_counts[kCandidateBins];
    __shared__ float bin_mass[kCandidateBins];
    __shared__ int first_bin, candidate_count, kept;

    const int i = blockIdx.x, g = blockIdx.y;
    const float* row_dots = dots + ((int64)g * qc + i) * kc;
    const int64* sizes = key_sizes + (int64)g * mask_columns;
    for (int j = threadIdx.x; j < kc; j += kSelectThreads)
    {
        const float score = row_dots[j] * scale;
        scores[j] = bf16_mode ? round_to_bf16(score) : score;
    }
    for (int b = threadIdx.x; b < kCandidateBins; b += kSelectThreads) { bin_counts[b] = 0; bin_mass[b] = 0.f; }
    if (threadIdx.x == 0) candidate_count = 0;
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
    // descending sort, ties in id order. The histogram bins P by its top bits (half octaves).
    for (int j = threadIdx.x; j < padded; j += kSelectThreads)
    {
        if (j < kc)
        {
            float p = scores[j] / total;
            if (bf16_mode) p = round_to_bf16(p);
            const unsigned bits = is_nan(p) ? 0x7fffffffu : __float_as_uint(p);
            keys[j] = ((unsigned long long)(~bits) << 32) | (unsigned)j;
            const int bin = candidate_bin(bits);
            atomicAdd(&bin_counts[bin], 1);
            atomicAdd(&bin_mass[bin], p);
        }
        else keys[j] = ~0ull;
    }
    __syncthreads();

    // The candidates: every key of the highest bins that together hold the threshold's mass with a
    // margin and at least min_kept keys, so the kept prefix lies among them; only they are sorted.
    // The bins' float sums depend on the atomics' order, which moves the candidate set but never
    // the result: the prefix and its rank-order sums are the same in any superset of it.
    const float threshold = bf16_mode ? round_to_bf16(top_p) : top_p;
    if (threadIdx.x < kWarpSize)
    {
        const float target = threshold + (bf16_mode ? kBf16PrefixSlack : kFloat32PrefixSlack);
        const int needed = min(max(min_kept, 1), kc);
        const int lane = threadIdx.x;
        int lane_count = 0;
        float lane_mass = 0.f;
        for (int t = 0; t < kBinsPerSelectLane; ++t)
        {
            lane_count += bin_counts[kCandidateBins - 1 - kBinsPerSelectLane * lane - t];
            lane_mass += bin_mass[kCandidateBins - 1 - kBinsPerSelectLane * lane - t];
        }
        int count = warp_inclusive_scan(lane_count);
        float mass = warp_inclusive_scan(lane_mass);
        const unsigned enough = __ballot_sync(kFullMask, count >= needed && mass >= target);
        const int first = enough ? __ffs(enough) - 1 : kWarpSize - 1;
        if (lane == first)
        {
            int bin = kCandidateBins - 1 - kBinsPerSelectLane * lane, t = 0;
            count -= lane_count;
            mass -= lane_mass;
            for (; t < kBinsPerSelectLane - 1; ++t)
            {
                count += bin_counts[bin - t];
                mass += bin_mass[bin - t];
                if (enough && count >= needed && mass >= target) break;
            }
            first_bin = bin - t;
        }
    }
    __syncthreads();

    for (int j = threadIdx.x; j < kc; j += kSelectThreads)
        if (candidate_bin(~(unsigned)(keys[j] >> 32)) >= first_bin) candidates[atomicAdd(&candidate_count, 1)] = keys[j];
    __syncthreads();
    const int count = candidate_count;
    const int sorted_count = count > 1 ? (int)(2u << (31 - __clz(count - 1))) : count;
    for (int m = count + threadIdx.x; m < sorted_count; m += kSelectThreads) candidates[m] = ~0ull;
    block_bitonic_sort<kSelectThreads>(candidates, sorted_count);

    // The cumulative mass only grows, so the kept ranks are a prefix: find where it ends. A rank is
    // kept while its mass before is <= the threshold, so a NaN mass (a NaN row) keeps only the first
    // rank and the minimum, as the reference's comparison does. When the candidates run out before
    // the end (a margin too thin for this row), every key is sorted and ranked.
    if (threadIdx.x == 0)
    {
        const int end = top_p_end(candidates, count, threshold, bf16_mode);
        const int by_mass = end >= 0 ? end : (count == kc ? kc : -1);
        kept = by_mass < 0 || min(min_kept, kc) > count ? -1 : max(by_mass, min(min_kept, kc));
    }
    __syncthreads();
    unsigned char* row = mask + ((int64)g * mask_rows + i) * mask_columns;
    if (kept < 0)
    {
        block_bitonic_sort<kSelectThreads>(keys, padded);
        if (threadIdx.x == 0)
        {
            const int end = top_p_end(keys, kc, threshold, bf16_mode);
            kept = max(end >= 0 ? end : kc, min(min_kept, kc));
        }
        __syncthreads();
        for (int m = threadIdx.x; m < kc; m += kSelectThreads) row[(unsigned)keys[m]] = m < kept ? 1 : 0;
        return;
    }
    unsigned char* flags = (unsigned char*)keys;
    for (int j = threadIdx.x; j < kc; j += kSelectThreads) flags[j] = 0;
    __syncthreads();
    for (int m = threadIdx.x; m < kept; m += kSelectThreads) flags[(unsigned)candidates[m]] = 1;
    __syncthreads();
    for (int j = threadIdx.x; j < kc; j += kSelectThreads) row[j] = flags[j];
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
