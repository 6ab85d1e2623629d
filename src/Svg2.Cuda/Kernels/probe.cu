// The routing probe of svg2-ear (CompensationErrorProbe): for every (query cluster a, key cluster b)
// the squared norm of the error centroid compensation leaves in the output row of the query cluster's
// mean q̄_a if block (a, b) is skipped,
//   E_ab = T_ab + g_ab (v̄_b - o_a),  T_ab = sum_{j in b} p_aj (v_j - v̄_b),  g_ab = P_ab - w_ab,
//   P_ab = sum_{j in b} p_aj,  w_ab = n_b exp(q̄_a . c_b * scale - lse_a),
// with p_aj, lse_a and o_a the exact softmax of q̄_a over all N keys. Nothing of size QC x N is stored.
//
// Work split: one block = one head x kProbeRows (64) query-cluster means (4 warps x 16 rows) x one
//   split of the head's key clusters (a contiguous cluster range holding about N / splits keys, so
//   every cluster lies in one block). Grid (query tiles x splits, G), split-major within a head, so
//   the blocks that read the same keys run together and share them in L2.
// svg2_probe_softmax (sweep 1): per block, the online softmax of its 64 mean rows over the keys of its
//   split, written as partial (max, sum, unnormalised output). svg2_probe_merge: one warp per row
//   merges the splits into lse_a (exp2 domain), o_a and |o_a|^2 (for the head's E = sum n_a |o_a|^2).
// svg2_probe_errors (sweep 2): the same keys again, with lse_a and o_a known, to |E_ab|^2 (float64).
// svg2_probe_key_sample: the sampled probe's key sample (ProbeKeySample) of a head per block.
// svg2_probe_flash_softmax: sweep 1 of the flash variants, the same partial softmax from contiguous
//   key ranges in original order (see there). svg2_probe_centroid_softmax: the same flash pass over the
//   size-weighted key-cluster centroids, which replaces sweep 1 for the centroid normaliser.
// Both sweeps walk the split's clusters in permuted (cluster-contiguous) order, in 16-key chunks
//   aligned to each cluster's start (a cluster's last chunk is masked), kTileChunks chunks per staged
//   tile. S = q̄ K^T is bf16/fp16 mma.sync m16n8k16 with fp32 accumulation. Per cluster the kernels keep
//   T~ = sum p~ (v - v̄_b) and P~ = sum p~ with p~ = exp2(s - m_c), m_c the cluster's running row maximum:
//   the values are centred on the cluster's mean value in fp32 while they are staged, then rounded to
//   fp16 (so are the p~ in (0, 1]): centring first keeps T's precision, which matters because E is small
//   exactly where compensation is good, and fp16 has 3 more mantissa bits than bf16. Sweep 1 folds
//   each cluster into the row's softmax at the cluster's end (o += T~ + P~ v̄_b, rescaled); sweep 2
//   forms E~ = T~ + (P~ - w~)(v̄_b - o_a) with w~ = n_b exp2(q̄.c_b scale - m_c), where q̄.c_b comes
//   from the same MMA as the key logits (centroids staged beside the keys), and writes
//   |E|^2 = |E~|^2 2^(2 (m_c - lse_a)) in float64: the factor spans hundreds of decades for blocks of
//   tiny mass, below float32's range, and the reference keeps them in float64 too. Centred values
//   beyond fp16's range (|v - v̄| > 65504) make their block's error infinite (it is then computed
//   exactly), never wrong in silence. Empty key clusters score 0.
// A sampled probe (ProbeKeySample) walks a layout of at most m keys per cluster: cluster_log2_weights
//   [G, KC] holds log2(n_b / m_b) of each cluster (null: every key is walked). Every key of a cluster
//   weighs the same, so the weight lifts the cluster's maximum m_c at its end instead of each logit:
//   the fold of sweep 1 and the final factor of sweep 2 use m_c + log2(n_b / m_b), and w~, taken with
//   the walked count m_b relative to the unlifted m_c, equals n_b exp2(q̄.c_b scale - m_c - lift).
// Memory traffic per block: its 64 mean rows once, every key and value row of its split once per
//   sweep (from L2 when the head's blocks run together), the split's value means (fp32) once per
//   cluster, and per sweep-2 cluster its centroid row; the output is 8 bytes per (a, b).
#include "common.cuh"

#ifndef SVG2_PROBE_WARPS
#error "SVG2_PROBE_WARPS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_CHUNK_KEYS
#error "SVG2_PROBE_CHUNK_KEYS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_TILE_CHUNKS
#error "SVG2_PROBE_TILE_CHUNKS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_CENTROID_ROWS
#error "SVG2_PROBE_CENTROID_ROWS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_MERGE_WARPS
#error "SVG2_PROBE_MERGE_WARPS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_FIXED_SHARED_BYTES
#error "SVG2_PROBE_FIXED_SHARED_BYTES must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_PIPELINED_FIXED_SHARED_BYTES
#error "SVG2_PROBE_PIPELINED_FIXED_SHARED_BYTES must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_FLASH_TILE_KEYS
#error "SVG2_PROBE_FLASH_TILE_KEYS must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_FLASH_SHARED_BYTES
#error "SVG2_PROBE_FLASH_SHARED_BYTES must be defined (RoutingProbeTraits)"
#endif
#ifndef SVG2_PROBE_SAMPLE_THREADS
#error "SVG2_PROBE_SAMPLE_THREADS must be defined (RoutingProbeTraits)"
#endif

constexpr int kProbeWarps = SVG2_PROBE_WARPS;
constexpr int kProbeThreads = kProbeWarps * kWarpSize;
constexpr int kProbeRows = kProbeWarps * 16;                 // query-cluster means per block
constexpr int kChunkKeys = SVG2_PROBE_CHUNK_KEYS;            // keys per MMA chunk (k of the P V product)
constexpr int kTileChunks = SVG2_PROBE_TILE_CHUNKS;          // chunks staged together
constexpr int kTileKeys = kTileChunks * kChunkKeys;          // key slots per staged tile
constexpr int kCentroidRows = SVG2_PROBE_CENTROID_ROWS;      // one n-tile of centroid logits per tile
static_assert(kChunkKeys == 16, "a chunk is the k extent of one m16n8k16 MMA");
constexpr int kProbeKSteps = kHeadDim / 16;
constexpr int kValueTiles = kHeadDim / 8;                    // 8-column MMA tiles of T and o
constexpr int kProbeQueryBytes = kProbeRows * kRowBytes;
constexpr int kProbeKeyBytes = kTileKeys * kRowBytes;
constexpr int kProbeCentroidBytes = kCentroidRows * kRowBytes;
// Shared memory: the query tile, the key and value tiles, the centroid tile, two sets of chunk
// descriptors with their counts, the split's cluster range, then the head's offsets (int32, KC + 1).
constexpr int kProbeChunkOffset = kProbeQueryBytes + 2 * kProbeKeyBytes + kProbeCentroidBytes;
constexpr int kProbeCountOffset = kProbeChunkOffset + 2 * kTileChunks * 5 * 4;
constexpr int kProbeRangeOffset = kProbeCountOffset + 2 * 4;
constexpr int kProbeFixedBytes = kProbeRangeOffset + 2 * 4;
constexpr int kMergeWarps = SVG2_PROBE_MERGE_WARPS;
constexpr int kProbeRowsPerPass = kProbeThreads / kRowChunks;
static_assert(kProbeThreads % kRowChunks == 0 && kTileKeys % kProbeRowsPerPass == 0 && kProbeRows % kProbeRowsPerPass == 0, "whole rows per pass");
static_assert(kCentroidRows >= kTileChunks && kProbeKSteps % 2 == 0, "one centroid row per chunk; two k-steps per centroid load");
static_assert(kProbeThreads >= kProbeRows, "one thread per row when zeroing empty clusters");
static_assert(kProbeFixedBytes % 16 == 0, "the offsets follow 16-byte aligned");
static_assert(kProbeFixedBytes == SVG2_PROBE_FIXED_SHARED_BYTES, "the host reserves the layout's size (RoutingProbeTraits)");
// The pipelined walk's layout: the query tile, two stages (keys, raw then centred values, centroids, and
// the fp32 mean value of each chunk's cluster), three descriptor sets with their counts (padded to 4),
// the split's cluster range (padded to 4), then the head's offsets.
constexpr int kProbeMeanBytes = kTileChunks * kHeadDim * 4;
constexpr int kStageBytes = 2 * kProbeKeyBytes + kProbeCentroidBytes + kProbeMeanBytes;
constexpr int kPipelinedChunkOffset = kProbeQueryBytes + 2 * kStageBytes;
constexpr int kPipelinedCountOffset = kPipelinedChunkOffset + 3 * kTileChunks * 5 * 4;
constexpr int kPipelinedRangeOffset = kPipelinedCountOffset + 4 * 4;
constexpr int kPipelinedFixedBytes = kPipelinedRangeOffset + 4 * 4;
static_assert(kPipelinedFixedBytes % 16 == 0 && kStageBytes % 16 == 0, "16-byte aligned stages and offsets");
static_assert(kPipelinedFixedBytes == SVG2_PROBE_PIPELINED_FIXED_SHARED_BYTES, "the host reserves the layout's size (RoutingProbeTraits)");

// One chunk of a staged tile: 'count' keys of 'cluster' from permuted row 'start'; 'size' is the
// cluster's size; 'first' / 'last' mark the cluster's first and last chunk.
struct ProbeChunk
{
    int start, count, cluster, size, flags;
};
constexpr int kFirstChunk = 1;
constexpr int kLastChunk = 2;

__device__ __forceinline__ unsigned pack_half2(float low, float high)
{
    unsigned r;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(high), "f"(low));
    return r;
}

// D += A x B with fp16 operands, whatever the element type: the p~ and centred-value product.
__device__ __forceinline__ void mma_16x8x16_half(float (&d)[4], const unsigned (&a)[4], unsigned b0, unsigned b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ float fast_log2(float x)
{
    float r;
    asm("lg2.approx.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}

// 2^x as a double for any float x (NaN stays NaN): float32 alone would flush the probe's tiny factors
// to 0. The fraction goes through ex2, the integer part straight into the exponent bits.
__device__ __forceinline__ double exp2_to_double(float x)
{
    if (is_nan(x)) return __longlong_as_double(0x7ff8000000000000ll);
    if (x < -1022.f) return 0.0;
    if (x > 1023.f) return __longlong_as_double(0x7ff0000000000000ll);
    float whole;
    asm("cvt.rmi.f32.f32 %0, %1;" : "=f"(whole) : "f"(x));
    const long long exponent = (long long)((int)whole + 1023) << 52;
    return (double)fast_exp2(x - whole) * __longlong_as_double(exponent);
}

// log2(n_b / m_b) of a sampled probe's cluster b of head g (0 when every key is walked).
__device__ __forceinline__ float cluster_lift(const float* cluster_log2_weights, int g, int kc, int cluster)
{
    return cluster_log2_weights == nullptr ? 0.f : cluster_log2_weights[(int64)g * kc + cluster];
}

// Per block: its query tile, its split's clusters [first, last) and their offsets (int32, relative
// to nothing: permuted rows of the head) in shared memory.
struct ProbeBlock
{
    int g, tile, first, last;
};

// Loads the head's key-cluster offsets into shared memory and finds the split's cluster range:
// cluster b belongs to split floor(offsets[b] x splits / N), clamped to the last split.
__device__ __forceinline__ ProbeBlock probe_block(int* offsets, int* range, const int64* key_offsets, int layout_clusters, int kc, int splits,
                                                  int query_tiles)
{
    const int g = blockIdx.y, split = blockIdx.x / query_tiles, tile = blockIdx.x % query_tiles;
    const int64* head = key_offsets + (int64)g * (layout_clusters + 1);
    for (int b = threadIdx.x; b <= kc; b += kProbeThreads) offsets[b] = (int)head[b];
    __syncthreads();
    if (threadIdx.x == 0)
    {
        const int64 tokens = max(offsets[kc], 1);
        // The first cluster whose split is at least s, by bisection over the monotone split index.
        auto first_of = [&](int s) {
            int low = 0, high = kc;
            while (low < high)
            {
                const int middle = (low + high) / 2;
                const int64 owner = min((int64)splits - 1, (int64)offsets[middle] * splits / tokens);
                if (owner >= s) high = middle; else low = middle + 1;
            }
            return low;
        };
        range[0] = first_of(split);
        range[1] = split + 1 < splits ? first_of(split + 1) : kc;
    }
    __syncthreads();
    return {g, tile, range[0], range[1]};
}

// Thread 0 lays out the next tile's chunks from the cursor (cluster, position in it); returns how many.
__device__ __forceinline__ int next_chunks(ProbeChunk* chunks, int& cluster, int& position, int last, const int* offsets)
{
    int count = 0;
    while (count < kTileChunks && cluster < last)
    {
        const int begin = offsets[cluster], size = offsets[cluster + 1] - begin;
        if (size == 0) { ++cluster; continue; }
        const int keys = min(kChunkKeys, size - position);
        const int flags = (position == 0 ? kFirstChunk : 0) | (position + keys == size ? kLastChunk : 0);
        chunks[count++] = {begin + position, keys, cluster, size, flags};
        position += keys;
        if (position == size) { ++cluster; position = 0; }
    }
    return count;
}

// 8 values of one 16-byte chunk centred on their cluster's mean value in fp32, rounded to fp16.
__device__ __forceinline__ uint4 centre_values(uint4 raw, const float* mean)
{
    const float4 mean_low = *(const float4*)mean, mean_high = *(const float4*)(mean + 4);
    const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
    const float means[8] = {mean_low.x, mean_low.y, mean_low.z, mean_low.w, mean_high.x, mean_high.y, mean_high.z, mean_high.w};
    unsigned out[4];
#pragma unroll
    for (int w = 0; w < 4; ++w)
        out[w] = pack_half2(element_to_float((element_t)(words[w] & 0xffffu)) - means[2 * w],
                            element_to_float((element_t)(words[w] >> 16)) - means[2 * w + 1]);
    return make_uint4(out[0], out[1], out[2], out[3]);
}

// Row t of the centroid tile: c_b of the cluster whose last chunk is chunk t (other rows 0).
__device__ __forceinline__ void stage_centroids(unsigned centroid_tile, const ProbeChunk* chunks, int count, const element_t* key_means)
{
    const int chunk = threadIdx.x % kRowChunks;
    if (threadIdx.x < kCentroidRows * kRowChunks)
    {
        const int row = threadIdx.x / kRowChunks;
        const bool valid = row < count && (chunks[row].flags & kLastChunk);
        const element_t* source = key_means + (int64)(valid ? chunks[row].cluster : 0) * kHeadDim + chunk * kChunkElements;
        copy_async_16(centroid_tile + tile_offset(row, chunk), source, valid);
    }
}

// Stages a tile: keys by cp.async (masked slots zero-filled); values centred on their cluster's mean
// value in fp32, rounded to fp16 and stored (masked slots 0); with centroids, row t of the centroid
// tile holds c_b of the cluster whose last chunk is chunk t (other rows 0).
__device__ __forceinline__ void stage_tile(unsigned k_tile, unsigned char* v_tile, unsigned centroid_tile, const ProbeChunk* chunks, int count,
                                           const element_t* k, const element_t* v, const int64* permutation,
                                           const float* value_means, const element_t* key_means)
{
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kTileKeys / kProbeRowsPerPass; ++i)
    {
        const int row = first_row + i * kProbeRowsPerPass;
        const int c = row / kChunkKeys, slot = row % kChunkKeys;
        const bool valid = c < count && slot < chunks[c].count;
        const int64 token = valid ? permutation[chunks[c].start + slot] : 0;
        const int64 element = token * kHeadDim + chunk * kChunkElements;
        const unsigned offset = tile_offset(row, chunk);
        copy_async_16(k_tile + offset, k + element, valid);
        *(uint4*)(v_tile + offset) = valid ? centre_values(*(const uint4*)(v + element), value_means + (int64)chunks[c].cluster * kHeadDim + chunk * kChunkElements)
                                           : make_uint4(0u, 0u, 0u, 0u);
    }
    if (key_means != nullptr) stage_centroids(centroid_tile, chunks, count, key_means);
    copy_async_commit();
}

// The pipelined form of stage_tile: everything by cp.async into one stage (keys, raw values, centroids,
// the chunks' fp32 mean values), so the copies of the next tile run under the MMAs of this one;
// centre_stage then centres the values in place. The permutation is read for all of a thread's rows
// before its first copy: each copy's asm is a compiler barrier, and reads after it would each wait
// their own round trip.
__device__ __forceinline__ void stage_tile_async(unsigned char* stage, const ProbeChunk* chunks, int count, const element_t* k, const element_t* v,
                                                 const int64* permutation, const float* value_means, const element_t* key_means)
{
    const unsigned k_tile = shared_address(stage), v_tile = k_tile + kProbeKeyBytes, centroid_tile = v_tile + kProbeKeyBytes;
    const unsigned mean_tile = centroid_tile + kProbeCentroidBytes;
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
    constexpr int kRowsPerThread = kTileKeys / kProbeRowsPerPass;
    int tokens[kRowsPerThread];
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i)
    {
        const int row = first_row + i * kProbeRowsPerPass;
        const int c = row / kChunkKeys, slot = row % kChunkKeys;
        tokens[i] = c < count && slot < chunks[c].count ? (int)permutation[chunks[c].start + slot] : -1;
    }
#pragma unroll
    for (int i = 0; i < kRowsPerThread; ++i)
    {
        const int row = first_row + i * kProbeRowsPerPass;
        const bool valid = tokens[i] >= 0;
        const int64 element = (int64)(valid ? tokens[i] : 0) * kHeadDim + chunk * kChunkElements;
        const unsigned offset = tile_offset(row, chunk);
        copy_async_16(k_tile + offset, k + element, valid);
        copy_async_16(v_tile + offset, v + element, valid);
    }
    constexpr int kMeanCopies = kTileChunks * kHeadDim / 4;
    for (int i = threadIdx.x; i < kMeanCopies; i += kProbeThreads)
    {
        const int c = i / (kHeadDim / 4), part = i % (kHeadDim / 4);
        if (c < count) copy_async_16(mean_tile + i * 16, value_means + (int64)chunks[c].cluster * kHeadDim + part * 4, true);
    }
    if (key_means != nullptr) stage_centroids(centroid_tile, chunks, count, key_means);
    copy_async_commit();
}

// Centres a landed stage's values in place (masked slots stay 0, as the zero-filled copies left them).
__device__ __forceinline__ void centre_stage(unsigned char* stage, const ProbeChunk* chunks, int count)
{
    unsigned char* v_tile = stage + kProbeKeyBytes;
    const float* mean_tile = (const float*)(stage + 2 * kProbeKeyBytes + kProbeCentroidBytes);
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kTileKeys / kProbeRowsPerPass; ++i)
    {
        const int row = first_row + i * kProbeRowsPerPass;
        const int c = row / kChunkKeys, slot = row % kChunkKeys;
        if (c >= count || slot >= chunks[c].count) continue;
        uint4* cell = (uint4*)(v_tile + tile_offset(row, chunk));
        *cell = centre_values(*cell, mean_tile + c * kHeadDim + chunk * kChunkElements);
    }
}

// The state of one warp: its 16 mean rows as A fragments, the open cluster's T~, P~ and running
// maximum m_c (exp2 domain; this thread's two rows, lane / 4 and lane / 4 + 8).
struct ProbeWarp
{
    unsigned q[kProbeKSteps][4];
    float t[kValueTiles][4];
    float cluster_sum[2], cluster_max[2];
};

__device__ __forceinline__ void load_query_fragments(ProbeWarp& w, unsigned q_tile, const element_t* query_means, int qc, int row0)
{
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
    for (int row = first_row; row < kProbeRows; row += kProbeRowsPerPass)
    {
        const bool valid = row0 + row < qc;
        copy_async_16(q_tile + tile_offset(row, chunk), query_means + (int64)(valid ? row0 + row : 0) * kHeadDim + chunk * kChunkElements, valid);
    }
    copy_async_commit();
    copy_async_wait<0>();
    __syncthreads();
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
#pragma unroll
    for (int kk = 0; kk < kProbeKSteps; ++kk)
        load_matrix_x4(w.q[kk], q_tile + tile_offset(warp * 16 + lane % 16, kk * 2 + lane / 16));
}

// One chunk into the open cluster's T~ and P~ (starting the cluster at its first chunk).
__device__ __forceinline__ void accumulate_chunk(ProbeWarp& w, unsigned k_tile, unsigned v_tile, int c, const ProbeChunk& chunk, float scale_log2)
{
    const int lane = threadIdx.x % kWarpSize;
    const unsigned k_rows = k_tile + (c * kChunkKeys + lane % 8 + (lane / 16) * 8) * kRowBytes;
    const int k_swizzle = ((lane / 8) % 2) ^ (lane % 8);
    const unsigned v_rows = v_tile + (c * kChunkKeys + lane % 8 + ((lane / 8) % 2) * 8) * kRowBytes;
    const int v_swizzle = (lane / 16) ^ (lane % 8);
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int kk = 0; kk < kProbeKSteps; ++kk)
    {
        unsigned b[4];
        load_matrix_x4(b, k_rows + (((kk * 2) ^ k_swizzle) << 4));
        mma_16x8x16(s[0], w.q[kk], b[0], b[1]);
        mma_16x8x16(s[1], w.q[kk], b[2], b[3]);
    }
    if (chunk.flags & kFirstChunk)
    {
#pragma unroll
        for (int n = 0; n < kValueTiles; ++n) w.t[n][0] = w.t[n][1] = w.t[n][2] = w.t[n][3] = 0.f;
        w.cluster_sum[0] = w.cluster_sum[1] = 0.f;
        w.cluster_max[0] = w.cluster_max[1] = negative_infinity();
    }
#pragma unroll
    for (int j = 0; j < 2; ++j)
#pragma unroll
        for (int e = 0; e < 4; ++e)
        {
            const int column = j * 8 + 2 * (lane % 4) + (e & 1);
            s[j][e] = column < chunk.count ? s[j][e] * scale_log2 : negative_infinity();
        }
    bool rescale = false;
    float correction[2];
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float top = fmaxf(fmaxf(s[0][2 * r], s[0][2 * r + 1]), fmaxf(s[1][2 * r], s[1][2 * r + 1]));
        top = fmaxf(top, __shfl_xor_sync(kFullMask, top, 1));
        top = fmaxf(top, __shfl_xor_sync(kFullMask, top, 2));
        const float new_max = fmaxf(w.cluster_max[r], top);
        const float base = new_max == negative_infinity() ? 0.f : new_max;
        correction[r] = fast_exp2(w.cluster_max[r] - base);
        rescale |= correction[r] != 1.f;
        w.cluster_max[r] = new_max;
        w.cluster_sum[r] *= correction[r];
#pragma unroll
        for (int j = 0; j < 2; ++j)
        {
            s[j][2 * r] = fast_exp2(s[j][2 * r] - base);
            s[j][2 * r + 1] = fast_exp2(s[j][2 * r + 1] - base);
            w.cluster_sum[r] += s[j][2 * r] + s[j][2 * r + 1];
        }
    }
    // Within a cluster the maximum settles after a few chunks: skip the rescale when no row moved.
    if (__any_sync(kFullMask, rescale))
#pragma unroll
        for (int n = 0; n < kValueTiles; ++n)
        {
            w.t[n][0] *= correction[0]; w.t[n][1] *= correction[0];
            w.t[n][2] *= correction[1]; w.t[n][3] *= correction[1];
        }
    const unsigned p[4] = {pack_half2(s[0][0], s[0][1]), pack_half2(s[0][2], s[0][3]), pack_half2(s[1][0], s[1][1]), pack_half2(s[1][2], s[1][3])};
#pragma unroll
    for (int pair = 0; pair < kValueTiles / 2; ++pair)
    {
        unsigned b[4];
        load_matrix_x4_transposed(b, v_rows + (((pair * 2) ^ v_swizzle) << 4));
        mma_16x8x16_half(w.t[2 * pair], p, b[0], b[1]);
        mma_16x8x16_half(w.t[2 * pair + 1], p, b[2], b[3]);
    }
}

// P~ of this thread's two rows summed over the quad (the lanes that share an accumulator row).
__device__ __forceinline__ float quad_sum(float x)
{
    x += __shfl_xor_sync(kFullMask, x, 1);
    return x + __shfl_xor_sync(kFullMask, x, 2);
}

// Rows of this thread's value-tile columns of the cluster's mean value: (n, e) is column n * 8 + 2 (lane % 4) + e.
__device__ __forceinline__ void load_mean_value(float (&mean)[kValueTiles][2], const float* value_means, int cluster)
{
    const int lane = threadIdx.x % kWarpSize;
    const float* row = value_means + (int64)cluster * kHeadDim + 2 * (lane % 4);
#pragma unroll
    for (int n = 0; n < kValueTiles; ++n)
    {
        const float2 pair = *(const float2*)(row + n * 8);
        mean[n][0] = pair.x;
        mean[n][1] = pair.y;
    }
}

// The MMAs of one staged tile: with Errors first the centroid logits q̄ . c of the tile's centroid rows,
// then every chunk into the open cluster, and 'at_cluster_end' on each cluster's last chunk.
template <bool Errors, typename ClusterEnd>
__device__ __forceinline__ void probe_tile(ProbeWarp& w, unsigned k_tile, unsigned v_tile, unsigned centroid_tile, const ProbeChunk* chunks, int count,
                                           float scale_log2, ClusterEnd& at_cluster_end)
{
    const int lane = threadIdx.x % kWarpSize;
    float centroid_logits[4] = {0.f, 0.f, 0.f, 0.f};
    if (Errors)
    {
        // q̄ . c for the tile's centroid rows, two k-steps per ldmatrix.x4 (rows 0-7, four 16-byte chunks).
        const int row = lane % 8;
#pragma unroll
        for (int kk = 0; kk < kProbeKSteps; kk += 2)
        {
            unsigned b[4];
            load_matrix_x4(b, centroid_tile + tile_offset(row, kk * 2 + lane / 8));
            mma_16x8x16(centroid_logits, w.q[kk], b[0], b[1]);
            mma_16x8x16(centroid_logits, w.q[kk + 1], b[2], b[3]);
        }
#pragma unroll
        for (int e = 0; e < 4; ++e) centroid_logits[e] *= scale_log2;
    }
    for (int c = 0; c < count; ++c)
    {
        const ProbeChunk chunk = chunks[c];
        accumulate_chunk(w, k_tile, v_tile, c, chunk, scale_log2);
        if (!(chunk.flags & kLastChunk)) continue;
        // The centroid logit of chunk c is column c, held by lane (quad, c / 2) as element c % 2 (row r: + 2 r).
        // (Selects, not an index by c: a dynamic index would put the array in local memory.)
        const int source = (lane & ~3) | (c / 2);
        const bool odd = c % 2 != 0;
        const float logit0 = __shfl_sync(kFullMask, odd ? centroid_logits[1] : centroid_logits[0], source);
        const float logit1 = __shfl_sync(kFullMask, odd ? centroid_logits[3] : centroid_logits[2], source);
        at_cluster_end(chunk, logit0, logit1);
    }
}

// Sweep 1 and 2 share the walk over the split's clusters; 'at_cluster_end' folds (sweep 1) or
// scores (sweep 2) each finished cluster, with the tile's centroid logits when sweep 2 staged them.
// One tile at a time: stage, wait, compute.
template <bool Errors, typename ClusterEnd>
__device__ __forceinline__ void probe_walk(ProbeWarp& w, const ProbeBlock& block, unsigned char* shared, const int* offsets,
                                           const element_t* k, const element_t* v, const int64* permutation,
                                           const float* value_means, const element_t* key_means, float scale_log2, ClusterEnd at_cluster_end)
{
    const unsigned q_tile = shared_address(shared);
    const unsigned k_tile = q_tile + kProbeQueryBytes;
    unsigned char* v_bytes = shared + kProbeQueryBytes + kProbeKeyBytes;
    const unsigned v_tile = shared_address(v_bytes);
    const unsigned centroid_tile = v_tile + kProbeKeyBytes;
    ProbeChunk* chunk_sets = (ProbeChunk*)(shared + kProbeChunkOffset);
    int* chunk_counts = (int*)(shared + kProbeCountOffset);
    int cluster = block.first, position = 0;
    for (int tile = 0;; ++tile)
    {
        ProbeChunk* chunks = chunk_sets + (tile % 2) * kTileChunks;
        // The other set may still be read by warps finishing the previous tile; this one is free.
        if (threadIdx.x == 0) chunk_counts[tile % 2] = next_chunks(chunks, cluster, position, block.last, offsets);
        __syncthreads();
        const int count = chunk_counts[tile % 2];
        if (count == 0) break;
        stage_tile(k_tile, v_bytes, centroid_tile, chunks, count, k, v, permutation, value_means, Errors ? key_means : nullptr);
        copy_async_wait<0>();
        __syncthreads();
        probe_tile<Errors>(w, k_tile, v_tile, centroid_tile, chunks, count, scale_log2, at_cluster_end);
    }
}

// The same walk with the copies of tile t + 1 in flight while tile t is computed (two stages, three
// descriptor sets: thread 0 lays out tile t + 2 while the others may still read tile t's and t + 1's).
// Per tile: issue t + 1's copies, compute t, wait, sync, centre t + 1's values, sync.
template <bool Errors, typename ClusterEnd>
__device__ __forceinline__ void probe_walk_pipelined(ProbeWarp& w, const ProbeBlock& block, unsigned char* shared, const int* offsets,
                                                     const element_t* k, const element_t* v, const int64* permutation,
                                                     const float* value_means, const element_t* key_means, float scale_log2, ClusterEnd at_cluster_end)
{
    unsigned char* stages = shared + kProbeQueryBytes;
    ProbeChunk* chunk_sets = (ProbeChunk*)(shared + kPipelinedChunkOffset);
    int* counts = (int*)(shared + kPipelinedCountOffset);
    const element_t* centroids = Errors ? key_means : nullptr;
    int cluster = block.first, position = 0;
    if (threadIdx.x == 0)
    {
        counts[0] = next_chunks(chunk_sets, cluster, position, block.last, offsets);
        counts[1] = next_chunks(chunk_sets + kTileChunks, cluster, position, block.last, offsets);
    }
    __syncthreads();
    if (counts[0] == 0) return;
    stage_tile_async(stages, chunk_sets, counts[0], k, v, permutation, value_means, centroids);
    copy_async_wait<0>();
    __syncthreads();
    centre_stage(stages, chunk_sets, counts[0]);
    __syncthreads();
    for (int tile = 0;; ++tile)
    {
        unsigned char* current = stages + (tile % 2) * kStageBytes;
        unsigned char* following = stages + ((tile + 1) % 2) * kStageBytes;
        const ProbeChunk* chunks = chunk_sets + (tile % 3) * kTileChunks;
        const ProbeChunk* following_chunks = chunk_sets + ((tile + 1) % 3) * kTileChunks;
        const int count = counts[tile % 3], following_count = counts[(tile + 1) % 3];
        if (following_count > 0) stage_tile_async(following, following_chunks, following_count, k, v, permutation, value_means, centroids);
        const unsigned k_tile = shared_address(current), v_tile = k_tile + kProbeKeyBytes;
        probe_tile<Errors>(w, k_tile, v_tile, v_tile + kProbeKeyBytes, chunks, count, scale_log2, at_cluster_end);
        if (following_count == 0) break;
        if (threadIdx.x == 0)
            counts[(tile + 2) % 3] = next_chunks(chunk_sets + ((tile + 2) % 3) * kTileChunks, cluster, position, block.last, offsets);
        copy_async_wait<0>();
        __syncthreads();
        centre_stage(following, following_chunks, following_count);
        __syncthreads();
    }
}

// The walk of the variant the host chose ('pipelined' is uniform over the grid).
template <bool Errors, typename ClusterEnd>
__device__ __forceinline__ void probe_walk_of(bool pipelined, ProbeWarp& w, const ProbeBlock& block, unsigned char* shared, const int* offsets,
                                              const element_t* k, const element_t* v, const int64* permutation,
                                              const float* value_means, const element_t* key_means, float scale_log2, ClusterEnd at_cluster_end)
{
    if (pipelined) probe_walk_pipelined<Errors>(w, block, shared, offsets, k, v, permutation, value_means, key_means, scale_log2, at_cluster_end);
    else probe_walk<Errors>(w, block, shared, offsets, k, v, permutation, value_means, key_means, scale_log2, at_cluster_end);
}

// Writes a warp's partial softmax of its 16 rows (row_sum already summed over the quad) at split_rows
// (the first row of the block's split in [G, splits, QC]); rows past QC are not written.
__device__ __forceinline__ void store_partial_softmax(const float (&o)[kValueTiles][4], const float (&row_max)[2], const float (&row_sum)[2],
                                                      int64 split_rows, int row0, int qc, float* partial_max, float* partial_sum, float* partial_output)
{
    const int warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        const int row = row0 + warp * 16 + lane / 4 + 8 * r;
        if (row >= qc) continue;
        if (lane % 4 == 0)
        {
            partial_max[split_rows + row] = row_max[r];
            partial_sum[split_rows + row] = row_sum[r];
        }
        float* destination = partial_output + (split_rows + row) * kHeadDim + 2 * (lane % 4);
#pragma unroll
        for (int n = 0; n < kValueTiles; ++n) *(float2*)(destination + n * 8) = make_float2(o[n][2 * r], o[n][2 * r + 1]);
    }
}

// Sweep 1: partial softmax of the block's mean rows over its split's keys.
//   partial_max, partial_sum [G, splits, QC] (exp2 domain), partial_output [G, splits, QC, D] unnormalised.
extern "C" __global__ void __launch_bounds__(kProbeThreads)
svg2_probe_softmax(const element_t* __restrict__ query_means, const float* __restrict__ value_means, const element_t* __restrict__ k,
                   const element_t* __restrict__ v, int64 group_rows, const int64* __restrict__ permutation, int permutation_group_rows,
                   const int64* __restrict__ key_offsets, int layout_clusters, const float* __restrict__ cluster_log2_weights, int qc, int kc,
                   int splits, int query_tiles, float scale_log2, float* __restrict__ partial_max, float* __restrict__ partial_sum,
                   float* __restrict__ partial_output, int pipelined)
{
    extern __shared__ __align__(128) unsigned char probe_shared[];
    int* offsets = (int*)(probe_shared + (pipelined ? kPipelinedFixedBytes : kProbeFixedBytes));
    int* range = (int*)(probe_shared + (pipelined ? kPipelinedRangeOffset : kProbeRangeOffset));
    const ProbeBlock block = probe_block(offsets, range, key_offsets, layout_clusters, kc, splits, query_tiles);
    const int g = block.g;
    const int row0 = block.tile * kProbeRows;
    ProbeWarp w;
    load_query_fragments(w, shared_address(probe_shared), query_means + (int64)g * qc * kHeadDim, qc, row0);
    const float* group_means = value_means + (int64)g * kc * kHeadDim;

    float o[kValueTiles][4];
#pragma unroll
    for (int n = 0; n < kValueTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()}, row_sum[2] = {0.f, 0.f};
    probe_walk_of<false>(pipelined != 0, w, block, probe_shared, offsets, k + (int64)g * group_rows * kHeadDim, v + (int64)g * group_rows * kHeadDim,
                      permutation + (int64)g * permutation_group_rows, group_means, nullptr, scale_log2,
                      [&](const ProbeChunk& chunk, float, float) {
                          float mean[kValueTiles][2];
                          load_mean_value(mean, group_means, chunk.cluster);
                          const float lift = cluster_lift(cluster_log2_weights, g, kc, chunk.cluster);
#pragma unroll
                          for (int r = 0; r < 2; ++r)
                          {
                              const float mass = quad_sum(w.cluster_sum[r]);
                              const float cluster_top = w.cluster_max[r] + lift;
                              const float top = fmaxf(row_max[r], cluster_top);
                              const float base = top == negative_infinity() ? 0.f : top;
                              const float keep = fast_exp2(row_max[r] - base), add = fast_exp2(cluster_top - base);
                              row_max[r] = top;
                              row_sum[r] = row_sum[r] * keep + mass * add;
#pragma unroll
                              for (int n = 0; n < kValueTiles; ++n)
#pragma unroll
                                  for (int e = 0; e < 2; ++e)
                                      o[n][2 * r + e] = o[n][2 * r + e] * keep + (w.t[n][2 * r + e] + mass * mean[n][e]) * add;
                          }
                      });

    store_partial_softmax(o, row_max, row_sum, ((int64)g * splits + blockIdx.x / query_tiles) * qc, row0, qc, partial_max, partial_sum, partial_output);
}

// Sweep 1 as a flash pass (RoutingProbeVariant Flash*): lse_a and o_a need no cluster structure, so a
// split is a contiguous range of the head's keys in their original order (no permutation, no chunk
// descriptors, no per-cluster fold), walked in kFlashTileKeys-key tiles with the standard online softmax
// (one row maximum per tile). Two stages: the copies of tile t + 1 run under the MMAs of tile t. P.V is
// an fp16 MMA (p in (0, 1] and the values rounded to fp16, bf16 values converted once per tile in shared
// memory by the thread that copied them): fp16's 3 more mantissa bits than bf16 keep o_a's error near
// the cluster walk's, whose centring this pass cannot do. Values beyond fp16's range make o_a infinite,
// as the cluster walk's centred values do. The partial outputs are the cluster walk's, so the merge and
// sweep 2 are unchanged.
constexpr int kFlashTileKeys = SVG2_PROBE_FLASH_TILE_KEYS;
constexpr int kFlashKeyGroups = kFlashTileKeys / 16;          // 16-key groups: the k extent of one P.V MMA
constexpr int kFlashTileBytes = kFlashTileKeys * kRowBytes;
constexpr int kFlashStageBytes = 2 * kFlashTileBytes;          // keys, then values
static_assert(kFlashTileKeys % 16 == 0 && kFlashTileKeys % kProbeRowsPerPass == 0, "whole 16-key groups, whole rows per pass");
static_assert(kProbeQueryBytes <= kFlashStageBytes, "the query tile is staged where the first stage goes");
static_assert(2 * kFlashStageBytes == SVG2_PROBE_FLASH_SHARED_BYTES, "the host reserves the layout's size (RoutingProbeTraits)");

// Copies keys [first, first + count) of the head into a stage (slots past count zero-filled).
__device__ __forceinline__ void stage_flash_tile(unsigned stage, const element_t* k, const element_t* v, int64 first, int count)
{
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kFlashTileKeys / kProbeRowsPerPass; ++i)
    {
        const int row = first_row + i * kProbeRowsPerPass;
        const bool valid = row < count;
        const int64 element = (first + (valid ? row : 0)) * kHeadDim + chunk * kChunkElements;
        const unsigned offset = tile_offset(row, chunk);
        copy_async_16(stage + offset, k + element, valid);
        copy_async_16(stage + kFlashTileBytes + offset, v + element, valid);
    }
    copy_async_commit();
}

// Rounds the values this thread copied into a landed stage to fp16 in place (its own copies are visible
// to it after its wait; fp16 elements are already the MMA's type).
__device__ __forceinline__ void flash_values_to_half(unsigned char* stage)
{
#if !SVG2_ELEMENT_FP16
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kFlashTileKeys / kProbeRowsPerPass; ++i)
    {
        uint4* cell = (uint4*)(stage + kFlashTileBytes + tile_offset(first_row + i * kProbeRowsPerPass, chunk));
        const uint4 raw = *cell;
        const unsigned words[4] = {raw.x, raw.y, raw.z, raw.w};
        unsigned out[4];
#pragma unroll
        for (int w = 0; w < 4; ++w) out[w] = pack_half2(__uint_as_float(words[w] << 16), __uint_as_float(words[w] & 0xffff0000u));
        *cell = make_uint4(out[0], out[1], out[2], out[3]);
    }
#endif
}

// One staged tile of 'count' keys into the warp's online softmax: o, row_max (exp2 domain) and the
// thread's share of row_sum (summed over the quad at the end).
// With kWeighted every key's logit is lifted by its key_log2_weights entry (read for the tile's keys), and a
// key of weight -inf takes no part whatever its logit holds.
template <bool kWeighted>
__device__ __forceinline__ void flash_tile(const unsigned (&q)[kProbeKSteps][4], unsigned k_tile, unsigned v_tile, int count, const float* key_log2_weights,
                                           float scale_log2, float (&o)[kValueTiles][4], float (&row_max)[2], float (&row_sum)[2])
{
    const int lane = threadIdx.x % kWarpSize;
    const int k_swizzle = ((lane / 8) % 2) ^ (lane % 8);
    const int v_swizzle = (lane / 16) ^ (lane % 8);
    float s[kFlashKeyGroups][2][4];
#pragma unroll
    for (int j = 0; j < kFlashKeyGroups; ++j)
    {
        const unsigned k_rows = k_tile + (j * 16 + lane % 8 + (lane / 16) * 8) * kRowBytes;
#pragma unroll
        for (int h = 0; h < 2; ++h) s[j][h][0] = s[j][h][1] = s[j][h][2] = s[j][h][3] = 0.f;
#pragma unroll
        for (int kk = 0; kk < kProbeKSteps; ++kk)
        {
            unsigned b[4];
            load_matrix_x4(b, k_rows + (((kk * 2) ^ k_swizzle) << 4));
            mma_16x8x16(s[j][0], q[kk], b[0], b[1]);
            mma_16x8x16(s[j][1], q[kk], b[2], b[3]);
        }
    }
    // Element (j, h, e) is key j * 16 + h * 8 + 2 (lane % 4) + (e & 1) of the tile, row lane / 4 + 8 (e / 2).
#pragma unroll
    for (int j = 0; j < kFlashKeyGroups; ++j)
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
            for (int e = 0; e < 4; ++e)
            {
                const int key = j * 16 + h * 8 + 2 * (lane % 4) + (e & 1);
                float logit = negative_infinity();
                if (key < count)
                {
                    if constexpr (kWeighted)
                    {
                        const float lift = key_log2_weights[key];
                        if (lift != negative_infinity()) logit = s[j][h][e] * scale_log2 + lift;
                    }
                    else logit = s[j][h][e] * scale_log2;
                }
                s[j][h][e] = logit;
            }
    bool rescale = false;
    float correction[2];
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float top = negative_infinity();
#pragma unroll
        for (int j = 0; j < kFlashKeyGroups; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h) top = fmaxf(top, fmaxf(s[j][h][2 * r], s[j][h][2 * r + 1]));
        top = fmaxf(top, __shfl_xor_sync(kFullMask, top, 1));
        top = fmaxf(top, __shfl_xor_sync(kFullMask, top, 2));
        const float new_max = fmaxf(row_max[r], top);
        const float base = new_max == negative_infinity() ? 0.f : new_max;
        correction[r] = fast_exp2(row_max[r] - base);
        rescale |= correction[r] != 1.f;
        row_max[r] = new_max;
        float sum = 0.f;
#pragma unroll
        for (int j = 0; j < kFlashKeyGroups; ++j)
#pragma unroll
            for (int h = 0; h < 2; ++h)
            {
                s[j][h][2 * r] = fast_exp2(s[j][h][2 * r] - base);
                s[j][h][2 * r + 1] = fast_exp2(s[j][h][2 * r + 1] - base);
                sum += s[j][h][2 * r] + s[j][h][2 * r + 1];
            }
        row_sum[r] = row_sum[r] * correction[r] + sum;
    }
    if (__any_sync(kFullMask, rescale))
#pragma unroll
        for (int n = 0; n < kValueTiles; ++n)
        {
            o[n][0] *= correction[0]; o[n][1] *= correction[0];
            o[n][2] *= correction[1]; o[n][3] *= correction[1];
        }
#pragma unroll
    for (int j = 0; j < kFlashKeyGroups; ++j)
    {
        const unsigned p[4] = {pack_half2(s[j][0][0], s[j][0][1]), pack_half2(s[j][0][2], s[j][0][3]),
                               pack_half2(s[j][1][0], s[j][1][1]), pack_half2(s[j][1][2], s[j][1][3])};
        const unsigned v_rows = v_tile + (j * 16 + lane % 8 + ((lane / 8) % 2) * 8) * kRowBytes;
#pragma unroll
        for (int pair = 0; pair < kValueTiles / 2; ++pair)
        {
            unsigned b[4];
            load_matrix_x4_transposed(b, v_rows + (((pair * 2) ^ v_swizzle) << 4));
            mma_16x8x16_half(o[2 * pair], p, b[0], b[1]);
            mma_16x8x16_half(o[2 * pair + 1], p, b[2], b[3]);
        }
    }
}

// Sweep 1 as a flash pass over rows [0, tokens) of k and v: split s of a head is its rows
// [tokens s / splits, tokens (s + 1) / splits). kCentroids: the rows are the key-cluster centroids, v holds
// fp16 values (no conversion in shared memory) and key_log2_weights [G, tokens] lifts each row's logit.
template <bool kCentroids>
__device__ __forceinline__ void flash_softmax(unsigned char* probe_shared, const element_t* query_means, const element_t* k, const element_t* v, const float* key_log2_weights,
                                              int64 group_rows, int tokens, int qc, int splits, int query_tiles, float scale_log2,
                                              float* partial_max, float* partial_sum, float* partial_output)
{
    const int g = blockIdx.y, split = blockIdx.x / query_tiles, row0 = (blockIdx.x % query_tiles) * kProbeRows;
    const int64 first = (int64)tokens * split / splits, end = (int64)tokens * (split + 1) / splits;
    const int tiles = (int)((end - first + kFlashTileKeys - 1) / kFlashTileKeys);
    const unsigned stages = shared_address(probe_shared);
    ProbeWarp w;
    load_query_fragments(w, stages, query_means + (int64)g * qc * kHeadDim, qc, row0);
    const element_t* keys = k + (int64)g * group_rows * kHeadDim;
    const element_t* values = v + (int64)g * group_rows * kHeadDim;
    const float* weights = kCentroids ? key_log2_weights + (int64)g * group_rows : nullptr;

    float o[kValueTiles][4];
#pragma unroll
    for (int n = 0; n < kValueTiles; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()}, row_sum[2] = {0.f, 0.f};
    // Every warp holds its query fragments before the first stage overwrites the query tile.
    __syncthreads();
    if (tiles > 0) stage_flash_tile(stages, keys, values, first, (int)min((int64)kFlashTileKeys, end - first));
    for (int t = 0; t < tiles; ++t)
    {
        const int64 start = first + (int64)t * kFlashTileKeys;
        if (t + 1 < tiles)
        {
            const int64 following = start + kFlashTileKeys;
            stage_flash_tile(stages + ((t + 1) % 2) * kFlashStageBytes, keys, values, following, (int)min((int64)kFlashTileKeys, end - following));
            copy_async_wait<1>();
        }
        else copy_async_wait<0>();
        if constexpr (!kCentroids) flash_values_to_half(probe_shared + (t % 2) * kFlashStageBytes);
        __syncthreads();
        const unsigned current = stages + (t % 2) * kFlashStageBytes;
        flash_tile<kCentroids>(w.q, current, current + kFlashTileBytes, (int)min((int64)kFlashTileKeys, end - start), kCentroids ? weights + start : nullptr,
                               scale_log2, o, row_max, row_sum);
        // The next iteration's copies overwrite this stage.
        __syncthreads();
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) row_sum[r] = quad_sum(row_sum[r]);
    store_partial_softmax(o, row_max, row_sum, ((int64)g * splits + split) * qc, row0, qc, partial_max, partial_sum, partial_output);
}

// Sweep 1 as a flash pass: split s of a head is its keys [N s / splits, N (s + 1) / splits) in original
// order; the outputs are svg2_probe_softmax's.
extern "C" __global__ void __launch_bounds__(kProbeThreads)
svg2_probe_flash_softmax(const element_t* __restrict__ query_means, const element_t* __restrict__ k, const element_t* __restrict__ v, int64 group_rows,
                         int tokens, int qc, int splits, int query_tiles, float scale_log2,
                         float* __restrict__ partial_max, float* __restrict__ partial_sum, float* __restrict__ partial_output)
{
    extern __shared__ __align__(128) unsigned char probe_shared[];
    flash_softmax<false>(probe_shared, query_means, k, v, nullptr, group_rows, tokens, qc, splits, query_tiles, scale_log2, partial_max, partial_sum, partial_output);
}

// The centroid normaliser (ProbeNormalisation.Centroid) in place of sweep 1: the same partial softmax of the
// mean rows over the head's kc key-cluster centroids [G, kc, D], each lifted by log2 of its cluster's size
// (key_log2_weights [G, kc]; -inf for an empty cluster, which then takes no part whatever its centroid
// holds), with the clusters' mean values as the values, already fp16 [G, kc, D] (an empty cluster's must be
// finite: its probability is an exact 0). The merge then gives lse_a, o_a and |o_a|^2 as for the exact pass.
extern "C" __global__ void __launch_bounds__(kProbeThreads)
svg2_probe_centroid_softmax(const element_t* __restrict__ query_means, const element_t* __restrict__ key_means, const unsigned short* __restrict__ value_means_half,
                            const float* __restrict__ key_log2_weights, int kc, int qc, int splits, int query_tiles, float scale_log2,
                            float* __restrict__ partial_max, float* __restrict__ partial_sum, float* __restrict__ partial_output)
{
    extern __shared__ __align__(128) unsigned char probe_shared[];
    flash_softmax<true>(probe_shared, query_means, key_means, (const element_t*)value_means_half, key_log2_weights, kc, kc, qc, splits, query_tiles, scale_log2,
                        partial_max, partial_sum, partial_output);
}

// One warp per mean row: merges the splits into lse (exp2 domain), o and |o|^2.
extern "C" __global__ void __launch_bounds__(kMergeWarps * kWarpSize)
svg2_probe_merge(const float* __restrict__ partial_max, const float* __restrict__ partial_sum, const float* __restrict__ partial_output,
                 float* __restrict__ lse_log2, float* __restrict__ output, float* __restrict__ squared_output, int groups, int qc, int splits)
{
    const int row = blockIdx.x * kMergeWarps + threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    if (row >= groups * qc) return;
    const int g = row / qc, a = row % qc;
    float top = negative_infinity();
    for (int s = 0; s < splits; ++s) top = fmaxf(top, partial_max[((int64)g * splits + s) * qc + a]);
    const float base = top == negative_infinity() ? 0.f : top;
    float sum = 0.f;
    for (int s = 0; s < splits; ++s)
    {
        const int64 index = ((int64)g * splits + s) * qc + a;
        sum += partial_sum[index] * fast_exp2(partial_max[index] - base);
    }
    const float inverse = 1.f / sum;
    float norm = 0.f;
    for (int d = lane; d < kHeadDim; d += kWarpSize)
    {
        float x = 0.f;
        for (int s = 0; s < splits; ++s)
        {
            const int64 index = ((int64)g * splits + s) * qc + a;
            x += partial_output[index * kHeadDim + d] * fast_exp2(partial_max[index] - base);
        }
        x *= inverse;
        output[(int64)row * kHeadDim + d] = x;
        norm += x * x;
    }
    norm = warp_sum(norm);
    if (lane == 0)
    {
        lse_log2[row] = base + log2f(sum);
        squared_output[row] = norm;
    }
}

// Sweep 2: |E_ab|^2 of the block's mean rows and its split's key clusters, into squared_error [G, QC, KC].
// With column_scale [G, KC] (S^2 / (n_b E), 0 for an empty cluster) and query_sizes [G, QC], it writes the
// routing scores |E_ab|^2 x column_scale[b] instead, 0 for a query cluster of no rows (CompensationErrorProbe.Scores).
extern "C" __global__ void __launch_bounds__(kProbeThreads)
svg2_probe_errors(const element_t* __restrict__ query_means, const element_t* __restrict__ key_means, const float* __restrict__ value_means,
                  const element_t* __restrict__ k, const element_t* __restrict__ v, int64 group_rows, const int64* __restrict__ permutation,
                  int permutation_group_rows, const int64* __restrict__ key_offsets, int layout_clusters, const float* __restrict__ cluster_log2_weights,
                  int qc, int kc, int splits, int query_tiles, float scale_log2, const float* __restrict__ lse_log2, const float* __restrict__ output,
                  double* __restrict__ squared_error, int pipelined, const double* __restrict__ column_scale, const int64* __restrict__ query_sizes)
{
    extern __shared__ __align__(128) unsigned char probe_shared[];
    int* offsets = (int*)(probe_shared + (pipelined ? kPipelinedFixedBytes : kProbeFixedBytes));
    int* range = (int*)(probe_shared + (pipelined ? kPipelinedRangeOffset : kProbeRangeOffset));
    const ProbeBlock block = probe_block(offsets, range, key_offsets, layout_clusters, kc, splits, query_tiles);
    const int g = block.g, warp = threadIdx.x / kWarpSize, lane = threadIdx.x % kWarpSize;
    const int row0 = block.tile * kProbeRows;
    double* group_error = squared_error + (int64)g * qc * kc;
    // Empty clusters of the split score 0 for every row of the tile.
    for (int b = block.first; b < block.last; ++b)
        if (offsets[b + 1] == offsets[b] && threadIdx.x < kProbeRows && row0 + (int)threadIdx.x < qc)
            group_error[(int64)(row0 + threadIdx.x) * kc + b] = 0.0;

    ProbeWarp w;
    load_query_fragments(w, shared_address(probe_shared), query_means + (int64)g * qc * kHeadDim, qc, row0);
    const float* group_means = value_means + (int64)g * kc * kHeadDim;
    int rows[2];
    float lse[2], o[kValueTiles][4];
    bool scored[2];   // with scores: the row's query cluster has rows
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        rows[r] = row0 + warp * 16 + lane / 4 + 8 * r;
        const bool valid = rows[r] < qc;
        lse[r] = valid ? lse_log2[(int64)g * qc + rows[r]] : 0.f;
        scored[r] = column_scale == nullptr || (valid && query_sizes[(int64)g * qc + rows[r]] > 0);
        const float* source = output + ((int64)g * qc + (valid ? rows[r] : 0)) * kHeadDim + 2 * (lane % 4);
#pragma unroll
        for (int n = 0; n < kValueTiles; ++n)
        {
            const float2 pair = valid ? *(const float2*)(source + n * 8) : make_float2(0.f, 0.f);
            o[n][2 * r] = pair.x;
            o[n][2 * r + 1] = pair.y;
        }
    }
    probe_walk_of<true>(pipelined != 0, w, block, probe_shared, offsets, k + (int64)g * group_rows * kHeadDim, v + (int64)g * group_rows * kHeadDim,
                     permutation + (int64)g * permutation_group_rows, group_means, key_means + (int64)g * kc * kHeadDim, scale_log2,
                     [&](const ProbeChunk& chunk, float logit0, float logit1) {
                         float mean[kValueTiles][2];
                         load_mean_value(mean, group_means, chunk.cluster);
                         const float log2_size = fast_log2((float)chunk.size);
                         const float lift = cluster_lift(cluster_log2_weights, g, kc, chunk.cluster);
                         const float logits[2] = {logit0, logit1};
#pragma unroll
                         for (int r = 0; r < 2; ++r)
                         {
                             // E~ = T~ + (P~ - w~)(v̄_b - o_a), all relative to the cluster's maximum m_c.
                             const float gap = quad_sum(w.cluster_sum[r]) - fast_exp2(logits[r] + log2_size - w.cluster_max[r]);
                             float squared = 0.f;
#pragma unroll
                             for (int n = 0; n < kValueTiles; ++n)
#pragma unroll
                                 for (int e = 0; e < 2; ++e)
                                 {
                                     const float x = w.t[n][2 * r + e] + gap * (mean[n][e] - o[n][2 * r + e]);
                                     squared += x * x;
                                 }
                             squared = quad_sum(squared);
                             if (lane % 4 == r && rows[r] < qc)
                             {
                                 const double error = (double)squared * exp2_to_double(2.f * (w.cluster_max[r] + lift - lse[r]));
                                 group_error[(int64)rows[r] * kc + chunk.cluster] =
                                     column_scale == nullptr ? error : scored[r] ? error * column_scale[(int64)g * kc + chunk.cluster] : 0.0;
                             }
                         }
                     });
}

constexpr int kSampleThreads = SVG2_PROBE_SAMPLE_THREADS;

// The sampled probe's layout (ProbeKeySample.Of), one head per block: key cluster b of n_b keys keeps
// m_b = min(n_b, per_cluster) keys, at positions start_b + floor((2 i + 1) n_b / (2 m_b)) for i < m_b, laid
// out cluster after cluster from sampled_offsets[b] (an exclusive scan of m_b); log_weights[b] = ln(n_b / m_b),
// 0 for an empty cluster. The slots past the head's sample hold position and cluster 0. Shared: kc + 1 ints.
extern "C" __global__ void __launch_bounds__(kSampleThreads)
svg2_probe_key_sample(const int64* __restrict__ offsets, int layout_clusters, int kc, int per_cluster, int64* __restrict__ positions,
                      int64* __restrict__ clusters, int64* __restrict__ sampled_offsets, float* __restrict__ log_weights)
{
    extern __shared__ int sample_shared[];
    int* kept = sample_shared;   // [kc + 1]: m_b, then its exclusive scan
    const int g = blockIdx.x;
    const int64* head_offsets = offsets + (int64)g * (layout_clusters + 1);
    for (int b = threadIdx.x; b < kc; b += kSampleThreads)
    {
        const int64 size = head_offsets[b + 1] - head_offsets[b];
        const int keep = (int)min(size, (int64)per_cluster);
        kept[b] = keep;
        // The reference divides in float64 and rounds the logarithm to float32.
        log_weights[(int64)g * kc + b] = size > keep ? (float)log((double)size / keep) : 0.f;
    }
    __syncthreads();
    if (threadIdx.x < kWarpSize)
    {
        const int total = warp_exclusive_scan_in_place(kept, kc);
        if (threadIdx.x == 0) kept[kc] = total;
    }
    __syncthreads();
    const int64 slots = (int64)kc * per_cluster;
    int64* head_positions = positions + (int64)g * slots;
    int64* head_clusters = clusters + (int64)g * slots;
    for (int b = threadIdx.x; b <= kc; b += kSampleThreads) sampled_offsets[(int64)g * (kc + 1) + b] = kept[b];
    for (int b = threadIdx.x; b < kc; b += kSampleThreads)
    {
        const int64 start = head_offsets[b], size = head_offsets[b + 1] - start;
        const int first = kept[b], keep = kept[b + 1] - first;
        for (int i = 0; i < keep; ++i)
        {
            head_positions[first + i] = start + (2 * (int64)i + 1) * size / (2 * (int64)keep);
            head_clusters[first + i] = b;
        }
    }
    for (int64 slot = kept[kc] + threadIdx.x; slot < slots; slot += kSampleThreads)
    {
        head_positions[slot] = 0;
        head_clusters[slot] = 0;
    }
}
