// Variable-block sparse attention over clusters, with the token permutation fused into the loads
// and the inverse permutation fused into the store (q, k, v and the output stay in original order).
//
// svg2_key_ranges: grid (QC, G), 128 threads. Turns a mask row into the compact list of selected
//   key-cluster ranges of the permuted key sequence (start, virtual end), merging adjacent clusters,
//   plus the number of selected keys and of selected clusters among the first counted_kc (the
//   video key clusters). Never token indices. Given mask_bits [G, QC, ceil(KC / 32)], it also writes the
//   row as bits for the tail pairing (tail_pairs.cu).
// svg2_plan_tiles: grid (G), 1024 threads. Sorts query clusters by cost (rows x selected keys,
//   heaviest first, bitonic in shared memory) and lays out their tiles (rows_per_tile rows: 64 for
//   this kernel, 128 for attention_hopper.cu) in that order, so the
//   grid's blockIdx.x order runs the heaviest tiles of a head first while heads run one after
//   another (the head's K/V stays resident in L2). Given a statistics buffer [2, G] float64, it also
//   writes the selection's density, sum_i |Q_i| x selected keys_i x density_scale (1 / (Nq x Nk)),
//   and its floor share, the share of the first floor_qc query clusters (the video ones) that keep at
//   most floor_kept clusters, as count x floor_scale (1 / floor_qc): the sums are exact integers and
//   the scaling is a multiplication by the reciprocal, as libtorch's mean and division by a scalar
//   on CUDA do, so both equal the TorchSharp reductions they replace bit for bit. Given the tail pairing's
//   partners (tail_pairs.cu), it also lays out the paired plan's tile starts in the same order: a paired
//   cluster's rows up to its tail in whole and half tiles, plus the pair tile for the lower cluster of a pair.
// svg2_sparse_attention: grid (ceil(Nq / 64) + QC, G) = the maximum tile count; 64 query rows per
//   block, 16 or 32 per warp (SVG2_ATTENTION_WARP_ROWS). A tile keeps its query-cluster id and walks
//   the concatenation of the cluster's selected key ranges as one virtual K/V sequence in 64-row
//   tiles (SVG2_ATTENTION_BLOCK_KEYS): each virtual row is mapped to its physical
//   row by a forward cursor over the range ends in shared memory, then through the key permutation to
//   the original token, and loaded with cp.async (double-buffered, swizzled). S = Q K^T and O += P V
//   are bf16/fp16 mma.sync m16n8k16 with fp32 accumulation (ldmatrix, .trans for V), online softmax
//   in fp32 (exp2 domain). Rows of a tile with no selected key produce 0. The inner loop
//   (attend_tile) only sees shared-memory tiles, so a Hopper wgmma/TMA core can replace it.
// Traffic per tile: Q rows once, every selected K/V row once (from L2 when the head is resident),
//   output rows once; the permutation index is read once per row. With 64-row query tiles each
//   K/V byte feeds 64 rows, so L2 -> SM bandwidth bounds this design well below dense FA3 rates.
#include "common.cuh"
#include "key_ranges.cuh"
#include "compensation.cuh"

#ifndef SVG2_ATTENTION_TILE_ROWS
#error "SVG2_ATTENTION_TILE_ROWS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_BLOCK_KEYS
#error "SVG2_ATTENTION_BLOCK_KEYS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_WARP_ROWS
#error "SVG2_ATTENTION_WARP_ROWS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_MIN_BLOCKS
#error "SVG2_ATTENTION_MIN_BLOCKS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_KEY_VALUE_BUFFERS
#error "SVG2_ATTENTION_KEY_VALUE_BUFFERS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_RANGE_THREADS
#error "SVG2_ATTENTION_RANGE_THREADS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_PLAN_THREADS
#error "SVG2_ATTENTION_PLAN_THREADS must be defined (SparseAttentionTraits)"
#endif

constexpr int kBlockRows = SVG2_ATTENTION_TILE_ROWS;         // query rows per tile
// Tuning knobs (SVG2_ATTENTION_TUNING on the host): key rows per K/V tile, query rows per warp (16 or
// 32: with 32 every K/V fragment read from shared memory feeds two MMA row tiles), and the occupancy hint.
constexpr int kBlockKeys = SVG2_ATTENTION_BLOCK_KEYS;
constexpr int kRowsPerWarp = SVG2_ATTENTION_WARP_ROWS;
constexpr int kMTiles = kRowsPerWarp / 16;
constexpr int kAttentionWarps = kBlockRows / kRowsPerWarp;
constexpr int kAttentionThreads = kAttentionWarps * kWarpSize;
constexpr int kMinBlocksPerMultiprocessor = SVG2_ATTENTION_MIN_BLOCKS;
constexpr int kKeyValueBuffers = SVG2_ATTENTION_KEY_VALUE_BUFFERS;
static_assert(kKeyValueBuffers == 2, "the loop loads the next K/V tile while it reads the current one (copy_async_wait<1>)");
static_assert(kAttentionThreads >= kBlockKeys, "one thread per key row of a tile computes its token");
static_assert(kBlockKeys % 16 == 0 && kRowsPerWarp % 16 == 0, "MMA tile granularity");
constexpr int kScoreTiles = kBlockKeys / 8;        // 8-column MMA tiles of S
constexpr int kOutputTiles = kHeadDim / 8;         // 8-column MMA tiles of O
constexpr int kKSteps = kHeadDim / 16;
constexpr int kQueryTileBytes = kBlockRows * kRowBytes;
constexpr int kKeyTileBytes = kBlockKeys * kRowBytes;
constexpr int kRangeThreads = SVG2_ATTENTION_RANGE_THREADS;
constexpr int kRangeWarps = kRangeThreads / kWarpSize;
constexpr int kPlanThreads = SVG2_ATTENTION_PLAN_THREADS;

extern "C" __global__ void __launch_bounds__(kRangeThreads)
svg2_key_ranges(const unsigned char* __restrict__ mask, const int64* __restrict__ key_offsets,
                int* __restrict__ range_start, int* __restrict__ range_end, int* __restrict__ range_count,
                int* __restrict__ selected_keys, int* __restrict__ kept_clusters, unsigned* __restrict__ mask_bits, int qc, int kc,
                int counted_kc)
{
    __shared__ int range_prefix[kRangeThreads];
    __shared__ int key_prefix[kRangeThreads];
    __shared__ int totals[3];
    const int i = blockIdx.x, g = blockIdx.y;
    const int64 pair = (int64)g * qc + i;
    const unsigned char* row = mask + pair * kc;
    if (threadIdx.x == 0) totals[2] = 0;
    // The barriers inside the range list order the zeroed count before the adds and the adds before the read.
    int kept = 0;
    for (int j = threadIdx.x; j < counted_kc; j += kRangeThreads) kept += row[j] ? 1 : 0;
    const int2 listed = append_key_ranges<kRangeThreads>([&](int j) { return row[j] != 0; }, key_offsets + (int64)g * (kc + 1), kc,
                                                         range_start + pair * kc, range_end + pair * kc, 0, 0, range_prefix, key_prefix, totals);
    if (kept > 0) atomicAdd(&totals[2], kept);
    __syncthreads();
    if (mask_bits != nullptr)
    {
        // The row as bits for the tail pairing's shared-key sums: word w holds key clusters 32 w .. 32 w + 31.
        const int words = (kc + kWarpSize - 1) / kWarpSize, lane = threadIdx.x % kWarpSize;
        for (int w = threadIdx.x / kWarpSize; w < words; w += kRangeWarps)
        {
            const unsigned bits = __ballot_sync(kFullMask, w * kWarpSize + lane < kc && row[w * kWarpSize + lane]);
            if (lane == 0) mask_bits[pair * words + w] = bits;
        }
    }
    if (threadIdx.x == 0)
    {
        range_count[pair] = listed.x;
        selected_keys[pair] = listed.y;
        kept_clusters[pair] = totals[2];
    }
}

// svg2_centroid_keys: grid (QC, G), 128 threads. The key clusters a query cluster approximates under
//   per-row compensation (compensation.cuh): compensable, not selected and not empty, in order.
extern "C" __global__ void __launch_bounds__(kRangeThreads)
svg2_centroid_keys(const unsigned char* __restrict__ mask, const unsigned char* __restrict__ compensable, const int64* __restrict__ key_offsets,
                   int* __restrict__ centroid_list, int* __restrict__ centroid_count, int qc, int kc)
{
    __shared__ int prefix[kRangeThreads];
    __shared__ int total;
    const int i = blockIdx.x, g = blockIdx.y;
    const int64 pair = (int64)g * qc + i;
    const unsigned char* selected = mask + pair * kc;
    const unsigned char* allowed = compensable + pair * kc;
    const int64* offsets = key_offsets + (int64)g * (kc + 1);
    const int per_thread = (kc + kRangeThreads - 1) / kRangeThreads;
    const int first = threadIdx.x * per_thread, last = min(kc, first + per_thread);
    auto approximated = [&](int j) { return allowed[j] && !selected[j] && offsets[j + 1] > offsets[j]; };

    int count = 0;
    for (int j = first; j < last; ++j) count += approximated(j) ? 1 : 0;
    prefix[threadIdx.x] = count;
    __syncthreads();
    if (threadIdx.x < kWarpSize)
    {
        const int sum = warp_exclusive_scan_in_place(prefix, kRangeThreads);
        if (threadIdx.x == 0) total = sum;
    }
    __syncthreads();
    int* list = centroid_list + pair * kc;
    int r = prefix[threadIdx.x];
    for (int j = first; j < last; ++j)
        if (approximated(j)) list[r++] = j;
    if (threadIdx.x == 0) centroid_count[pair] = total;
}

// svg2_compensation_tail: grid (QC, G) over the video clusters, 128 threads. Per-row compensation's light
//   tail (CompensationTail) and its per-query-cluster term (ClusterCompensationTerms) from the blocks'
//   log-weights l_b = ln n_b + qbar_a . c_b x scale (-inf for an empty cluster) in one pass per query
//   cluster: the row's log-sum-exp over every key cluster, the tail l_b - lse < log_threshold (never for a
//   NaN), compensable = not tail, and over the skipped tail blocks the term's log2 weight and normalised
//   weights (the term's value is their product with the mean values, outside), plus whether one of them
//   has a non-finite mean value. Rows and columns are those of the layout (layout_qc, layout_kc >= QC, KC).
extern "C" __global__ void __launch_bounds__(kRangeThreads)
svg2_compensation_tail(const float* __restrict__ logits, const unsigned char* __restrict__ mask, const unsigned char* __restrict__ value_finite,
                       unsigned char* __restrict__ compensable, float* __restrict__ tail_weights, float* __restrict__ log2_weight,
                       unsigned char* __restrict__ poisoned, int qc, int kc, int layout_qc, int layout_kc, float log_threshold)
{
    __shared__ float scratch[kRangeWarps];
    const int a = blockIdx.x, g = blockIdx.y;
    const float* row = logits + ((int64)g * qc + a) * kc;
    const unsigned char* selected = mask + ((int64)g * layout_qc + a) * layout_kc;
    unsigned char* allowed = compensable + ((int64)g * layout_qc + a) * layout_kc;
    float* weights = tail_weights + ((int64)g * qc + a) * kc;
    const unsigned char* finite = value_finite + (int64)g * kc;
    auto max_of = [](float x, float y) { return is_nan(x) || is_nan(y) ? __int_as_float(0x7fc00000) : fmaxf(x, y); };
    auto sum_of = [](float x, float y) { return x + y; };

    float top = negative_infinity();
    for (int b = threadIdx.x; b < kc; b += kRangeThreads) top = max_of(top, row[b]);
    top = block_reduce<kRangeWarps>(top, scratch, max_of);
    float sum = 0.f;
    if (top != negative_infinity() && !is_nan(top))
        for (int b = threadIdx.x; b < kc; b += kRangeThreads) sum += __expf(row[b] - top);
    sum = block_reduce<kRangeWarps>(sum, scratch, sum_of);
    // -inf - -inf and NaN give NaN: no tail, as the reference's comparison with a NaN.
    const float total = top + __logf(sum);
    auto in_tail = [&](int b) { return row[b] - total < log_threshold; };

    float tail_top = negative_infinity();
    bool bad = false;
    for (int b = threadIdx.x; b < kc; b += kRangeThreads)
    {
        const bool tail = in_tail(b);
        allowed[b] = tail ? 0 : 1;
        if (tail && !selected[b])
        {
            tail_top = fmaxf(tail_top, row[b]);
            bad |= !finite[b];
        }
    }
    tail_top = block_reduce<kRangeWarps>(tail_top, scratch, max_of);
    float tail_sum = 0.f;
    for (int b = threadIdx.x; b < kc; b += kRangeThreads)
    {
        const float w = in_tail(b) && !selected[b] && tail_top != negative_infinity() ? __expf(row[b] - tail_top) : 0.f;
        weights[b] = w;
        tail_sum += w;
    }
    tail_sum = block_reduce<kRangeWarps>(tail_sum, scratch, sum_of);
    bad = block_reduce<kRangeWarps>(bad ? 1.f : 0.f, scratch, sum_of) > 0.f;
    const float inverse = tail_sum > 0.f ? 1.f / tail_sum : 0.f;
    for (int b = threadIdx.x; b < kc; b += kRangeThreads) weights[b] *= inverse;
    if (threadIdx.x == 0)
    {
        log2_weight[(int64)g * layout_qc + a] = tail_sum > 0.f ? (tail_top + __logf(tail_sum)) * 1.4426950408889634f : negative_infinity();
        poisoned[(int64)g * qc + a] = bad ? 1 : 0;
    }
}

// Writes starts[p] for the clusters in sorted order, from their tile counts in 'tiles' (overwritten), and
// the total at starts[qc]. Every thread of the block calls it.
__device__ __forceinline__ void write_tile_starts(int* tiles, int* starts, int qc)
{
    __syncthreads();
    if (threadIdx.x < kWarpSize)
    {
        int total = warp_exclusive_scan_in_place(tiles, qc);
        if (threadIdx.x == 0) starts[qc] = total;
    }
    __syncthreads();
    for (int p = threadIdx.x; p < qc; p += kPlanThreads) starts[p] = tiles[p];
}

extern "C" __global__ void __launch_bounds__(kPlanThreads)
svg2_plan_tiles(const int64* __restrict__ query_sizes, const int* __restrict__ selected_keys, const int* __restrict__ kept_clusters,
                const int* __restrict__ partner, int* __restrict__ order, int* __restrict__ tile_start, int* __restrict__ paired_tile_start,
                double* __restrict__ statistics, int qc, int padded, int rows_per_tile, int floor_qc, int floor_kept, double density_scale,
                double floor_scale)
{
    extern __shared__ __align__(16) unsigned char plan_shared[];
    unsigned long long* keys = (unsigned long long*)plan_shared;
    int* tiles = (int*)(keys + padded);
    __shared__ unsigned long long computed_entries;
    __shared__ int floor_rows;
    const int g = blockIdx.x;
    if (threadIdx.x == 0) { computed_entries = 0; floor_rows = 0; }
    unsigned long long entries = 0;
    int at_floor = 0;
    for (int t = threadIdx.x; t < padded; t += kPlanThreads)
    {
        if (t < qc)
        {
            const int64 rows = query_sizes[(int64)g * qc + t];
            const int selected = selected_keys[(int64)g * qc + t];
            entries += (unsigned long long)rows * (unsigned)selected;
            at_floor += t < floor_qc && kept_clusters[(int64)g * qc + t] <= floor_kept;
            float cost = (float)rows * (float)selected;
            keys[t] = ((unsigned long long)(~__float_as_uint(cost)) << 32) | (unsigned)t;
        }
        else keys[t] = ~0ull;
    }
    block_bitonic_sort<kPlanThreads>(keys, padded);
    // The sort ends with a barrier: the zeroed totals are visible to the adds, whose sums are read after the next one.
    if (statistics != nullptr)
    {
        if (entries > 0) atomicAdd(&computed_entries, entries);
        if (at_floor > 0) atomicAdd(&floor_rows, at_floor);
    }
    for (int p = threadIdx.x; p < qc; p += kPlanThreads)
    {
        int cluster = (int)(unsigned)keys[p];
        order[(int64)g * qc + p] = cluster;
        tiles[p] = (int)((query_sizes[(int64)g * qc + cluster] + rows_per_tile - 1) / rows_per_tile);
    }
    write_tile_starts(tiles, tile_start + (int64)g * (qc + 1), qc);
    if (statistics != nullptr && threadIdx.x == 0)
    {
        statistics[g] = (double)computed_entries * density_scale;
        statistics[gridDim.x + g] = (double)floor_rows * floor_scale;
    }
    if (partner == nullptr) return;
    // The paired plan (locate_query_tile): a paired cluster's own rows stop at its tail; the lower of a pair adds the pair tile.
    for (int p = threadIdx.x; p < qc; p += kPlanThreads)
    {
        const int cluster = (int)(unsigned)keys[p], other = partner[(int64)g * qc + cluster];
        const int64 rows = query_sizes[(int64)g * qc + cluster];
        const int64 own = other < 0 ? rows : rows - rows % (rows_per_tile / 2);
        tiles[p] = (int)((own + rows_per_tile - 1) / rows_per_tile) + (other > cluster ? 1 : 0);
    }
    write_tile_starts(tiles, paired_tile_start + (int64)g * (qc + 1), qc);
}

// Thread t copies chunk t % kRowChunks of rows t / kRowChunks + i x kRowsPerPass: its chunk and, when
// kRowsPerPass is a multiple of the swizzle period, its swizzle term stay fixed, so the per-row work
// is one token read and one address.
constexpr int kRowsPerPass = kAttentionThreads / kRowChunks;
static_assert(kAttentionThreads % kRowChunks == 0 && kBlockKeys % kRowsPerPass == 0, "whole rows per pass");

__device__ __forceinline__ void load_key_value_tile(unsigned k_tile, unsigned v_tile, const int* tokens, const element_t* k, const element_t* v)
{
    const int chunk = threadIdx.x % kRowChunks, first_row = threadIdx.x / kRowChunks;
#pragma unroll
    for (int i = 0; i < kBlockKeys / kRowsPerPass; ++i)
    {
        const int row = first_row + i * kRowsPerPass;
        const int token = tokens[row];
        const bool valid = token >= 0;
        const int64 element = (int64)(valid ? token : 0) * kHeadDim + chunk * kChunkElements;
        const unsigned offset = tile_offset(row, chunk);
        copy_async_16(k_tile + offset, k + element, valid);
        copy_async_16(v_tile + offset, v + element, valid);
    }
}

// One K/V tile of the online softmax for the kRowsPerWarp query rows of this warp (kMTiles MMA
// row tiles share every K/V fragment loaded from shared memory). 'row_max' is in the exp2 domain
// (scores times scale x log2(e)); 'row_sum' holds this thread's partial sums.
__device__ __forceinline__ void attend_tile(const unsigned (&q)[kMTiles][kKSteps][4], unsigned k_tile, unsigned v_tile, int valid_keys,
                                            float scale_log2, float (&row_max)[kMTiles][2], float (&row_sum)[kMTiles][2],
                                            float (&o)[kMTiles][kOutputTiles][4])
{
    const int lane = threadIdx.x % kWarpSize;
    // ldmatrix row addresses: the swizzle term (row % 8) is lane % 8 for every tile row this lane
    // addresses, so only the chunk XOR depends on the loop indices.
    const unsigned k_rows = k_tile + (lane % 8 + (lane / 16) * 8) * kRowBytes;
    const int k_swizzle = ((lane / 8) % 2) ^ (lane % 8);
    const unsigned v_rows = v_tile + (lane % 8 + ((lane / 8) % 2) * 8) * kRowBytes;
    const int v_swizzle = (lane / 16) ^ (lane % 8);
    float s[kMTiles][kScoreTiles][4];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
#pragma unroll
        for (int j = 0; j < kScoreTiles; ++j) s[m][j][0] = s[m][j][1] = s[m][j][2] = s[m][j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < kKSteps; ++kk)
#pragma unroll
        for (int pair = 0; pair < kScoreTiles / 2; ++pair)
        {
            unsigned b[4];
            load_matrix_x4(b, k_rows + pair * 16 * kRowBytes + (((kk * 2) ^ k_swizzle) << 4));
#pragma unroll
            for (int m = 0; m < kMTiles; ++m)
            {
                mma_16x8x16(s[m][2 * pair], q[m][kk], b[0], b[1]);
                mma_16x8x16(s[m][2 * pair + 1], q[m][kk], b[2], b[3]);
            }
        }

#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
    {
        // Only the last tile of a row's key sequence can be partial.
        if (valid_keys >= kBlockKeys)
        {
#pragma unroll
            for (int j = 0; j < kScoreTiles; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e) s[m][j][e] *= scale_log2;
        }
        else
        {
#pragma unroll
            for (int j = 0; j < kScoreTiles; ++j)
#pragma unroll
                for (int e = 0; e < 4; ++e)
                {
                    int column = j * 8 + 2 * (lane % 4) + (e & 1);
                    s[m][j][e] = column < valid_keys ? s[m][j][e] * scale_log2 : negative_infinity();
                }
        }

#pragma unroll
        for (int r = 0; r < 2; ++r)
        {
            float tile_max = negative_infinity();
#pragma unroll
            for (int j = 0; j < kScoreTiles; ++j) tile_max = fmaxf(tile_max, fmaxf(s[m][j][2 * r], s[m][j][2 * r + 1]));
            tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
            tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
            float new_max = fmaxf(row_max[m][r], tile_max);
            float base = new_max == negative_infinity() ? 0.f : new_max;
            float correction = fast_exp2(row_max[m][r] - base);
            row_max[m][r] = new_max;
            row_sum[m][r] *= correction;
#pragma unroll
            for (int d = 0; d < kOutputTiles; ++d) { o[m][d][2 * r] *= correction; o[m][d][2 * r + 1] *= correction; }
#pragma unroll
            for (int j = 0; j < kScoreTiles; ++j)
            {
                s[m][j][2 * r] = fast_exp2(s[m][j][2 * r] - base);
                s[m][j][2 * r + 1] = fast_exp2(s[m][j][2 * r + 1] - base);
                row_sum[m][r] += s[m][j][2 * r] + s[m][j][2 * r + 1];
            }
        }
    }

#pragma unroll
    for (int step = 0; step < kBlockKeys / 16; ++step)
    {
        unsigned p[kMTiles][4];
#pragma unroll
        for (int m = 0; m < kMTiles; ++m)
        {
            p[m][0] = pack_elements(s[m][2 * step][0], s[m][2 * step][1]);
            p[m][1] = pack_elements(s[m][2 * step][2], s[m][2 * step][3]);
            p[m][2] = pack_elements(s[m][2 * step + 1][0], s[m][2 * step + 1][1]);
            p[m][3] = pack_elements(s[m][2 * step + 1][2], s[m][2 * step + 1][3]);
        }
#pragma unroll
        for (int pair = 0; pair < kOutputTiles / 2; ++pair)
        {
            unsigned b[4];
            load_matrix_x4_transposed(b, v_rows + step * 16 * kRowBytes + (((pair * 2) ^ v_swizzle) << 4));
#pragma unroll
            for (int m = 0; m < kMTiles; ++m)
            {
                mma_16x8x16(o[m][2 * pair], p[m], b[0], b[1]);
                mma_16x8x16(o[m][2 * pair + 1], p[m], b[2], b[3]);
            }
        }
    }
}

extern "C" __global__ void __launch_bounds__(kAttentionThreads, kMinBlocksPerMultiprocessor)
svg2_sparse_attention(const element_t* __restrict__ q, const element_t* __restrict__ k, const element_t* __restrict__ v,
                      element_t* __restrict__ out, const int64* __restrict__ query_permutation, const int64* __restrict__ query_offsets,
                      const int64* __restrict__ key_permutation, const int* __restrict__ range_start, const int* __restrict__ range_end,
                      const int* __restrict__ range_count, const int* __restrict__ order, const int* __restrict__ tile_start,
                      int nq, int nk, int qc, int kc, float scale_log2,
                      const float* __restrict__ compensation_log2_weight, const float* __restrict__ compensation_value)
{
    extern __shared__ __align__(128) unsigned char attention_shared[];
    unsigned char* shared = attention_shared;
    const int g = blockIdx.y, work = blockIdx.x;
    QueryTile query;
    if (!locate_query_tile(query, work, g, qc, kBlockRows, order, tile_start, query_offsets)) return;
    const int cluster = query.cluster, query_rows = query.rows;
    const int64 query_begin = query.begin;

    const unsigned q_tile = shared_address(shared);
    const unsigned k_tiles = q_tile + kQueryTileBytes;
    const unsigned v_tiles = k_tiles + kKeyValueBuffers * kKeyTileBytes;
    int* tokens = (int*)(shared + kQueryTileBytes + 2 * kKeyValueBuffers * kKeyTileBytes);   // [kKeyValueBuffers][kBlockKeys]
    int* starts = tokens + kKeyValueBuffers * kBlockKeys;                                     // [kc]
    int* ends = starts + kc;                                                       // [kc]

    const int tid = threadIdx.x, warp = tid / kWarpSize, lane = tid % kWarpSize;
    const int64 pair = (int64)g * qc + cluster;
    const int ranges = load_key_ranges(starts, ends, pair, kc, range_start, range_end, range_count, kAttentionThreads);
    const element_t* group_q = q + (int64)g * nq * kHeadDim;
    const element_t* group_k = k + (int64)g * nk * kHeadDim;
    const element_t* group_v = v + (int64)g * nk * kHeadDim;
    const int64* group_query_permutation = query_permutation + (int64)g * nq;
    const int64* group_key_permutation = key_permutation + (int64)g * nk;
    for (int c = tid; c < kBlockRows * kRowChunks; c += kAttentionThreads)
    {
        int row = c / kRowChunks, chunk = c % kRowChunks;
        bool valid = row < query_rows;
        int64 token = valid ? group_query_permutation[query_begin + row] : 0;
        copy_async_16(q_tile + tile_offset(row, chunk), group_q + token * kHeadDim + chunk * kChunkElements, valid);
    }
    copy_async_commit();
    __syncthreads();

    const int total_keys = ranges > 0 ? ends[ranges - 1] : 0;
    const int key_tiles = (total_keys + kBlockKeys - 1) / kBlockKeys;
    int cursor = 0;
    if (tid < kBlockKeys) tokens[tid] = key_token(tid, total_keys, starts, ends, cursor, group_key_permutation);
    __syncthreads();
    if (key_tiles > 0) load_key_value_tile(k_tiles, v_tiles, tokens, group_k, group_v);
    copy_async_commit();
    int pending = tid < kBlockKeys ? key_token(kBlockKeys + tid, total_keys, starts, ends, cursor, group_key_permutation) : -1;
    copy_async_wait<1>();
    __syncthreads();

    unsigned q_fragments[kMTiles][kKSteps][4];
    float o[kMTiles][kOutputTiles][4];
    float row_max[kMTiles][2], row_sum[kMTiles][2];
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
    {
#pragma unroll
        for (int kk = 0; kk < kKSteps; ++kk)
            load_matrix_x4(q_fragments[m][kk], q_tile + tile_offset(warp * kRowsPerWarp + m * 16 + lane % 16, kk * 2 + lane / 16));
#pragma unroll
        for (int d = 0; d < kOutputTiles; ++d) o[m][d][0] = o[m][d][1] = o[m][d][2] = o[m][d][3] = 0.f;
        row_max[m][0] = row_max[m][1] = negative_infinity();
        row_sum[m][0] = row_sum[m][1] = 0.f;
    }

    for (int j = 0; j < key_tiles; ++j)
    {
        const int next = (j + 1) % kKeyValueBuffers;
        if (tid < kBlockKeys) tokens[next * kBlockKeys + tid] = pending;
        __syncthreads();
        if (j + 1 < key_tiles)
            load_key_value_tile(k_tiles + next * kKeyTileBytes, v_tiles + next * kKeyTileBytes, tokens + next * kBlockKeys, group_k, group_v);
        copy_async_commit();
        if (tid < kBlockKeys) pending = key_token((j + 2) * kBlockKeys + tid, total_keys, starts, ends, cursor, group_key_permutation);
        copy_async_wait<1>();
        __syncthreads();
        const int current = j % kKeyValueBuffers;
        attend_tile(q_fragments, k_tiles + current * kKeyTileBytes, v_tiles + current * kKeyTileBytes,
                    total_keys - j * kBlockKeys, scale_log2, row_max, row_sum, o);
    }

    const ClusterCompensation compensation = cluster_compensation(compensation_log2_weight, compensation_value, pair);
#pragma unroll
    for (int m = 0; m < kMTiles; ++m)
#pragma unroll
        for (int r = 0; r < 2; ++r)
        {
            float sum = row_sum[m][r];
            sum += __shfl_xor_sync(kFullMask, sum, 1);
            sum += __shfl_xor_sync(kFullMask, sum, 2);
            const OutputFactors factors = output_factors(row_max[m][r], sum, compensation.log2_weight);
            const int row = warp * kRowsPerWarp + m * 16 + lane / 4 + r * 8;
            if (row >= query_rows) continue;
            const int64 token = group_query_permutation[query_begin + row];
            element_t* destination = out + ((int64)g * nq + token) * kHeadDim + 2 * (lane % 4);
#pragma unroll
            for (int d = 0; d < kOutputTiles; ++d)
            {
                const float2 approximated = compensation_pair(compensation, d * 8 + 2 * (lane % 4));
                *(unsigned*)(destination + d * 8) = pack_elements(o[m][d][2 * r] * factors.exact + approximated.x * factors.approximated,
                                                                  o[m][d][2 * r + 1] * factors.exact + approximated.y * factors.approximated);
            }
        }
}
