// Variable-block sparse attention for Hopper (sm_90a): the same work and the same fused
// permutations as attention.cu, with warpgroup MMA (wgmma) instead of mma.sync.
//
// svg2_sparse_attention_hopper: grid (ceil(Nq / 128) + QC, G) = the maximum tile count of the plan
//   built with 128 rows per tile; 3 warpgroups (384 threads), one block per multiprocessor.
//   Work split (warp specialisation): warpgroup 0 is the producer. It gathers the tile's Q rows once,
//   then per K/V tile looks up the tokens of the tile's 128 rows of the cluster's virtual key sequence
//   (the concatenation of its selected key ranges, one row per thread through the forward range
//   cursor and the key permutation) and gathers the K and V rows with cp.async into free stages, K a
//   tile ahead of V (tile j's K, then tile j - 1's V). Each copy arrives on its stage's "K full" or
//   "V full" barrier when it lands, so the producer runs ahead without waiting on its own copies, and
//   it waits on the stage's "K empty" or "V empty" barrier before reusing it. Warpgroups 1 and 2 are
//   consumers owning query rows 0-63 and 64-127: per K/V tile, S (64 x 128) = Q K^T as 8 (D 128)
//   wgmma k16 steps with both operands in shared memory, online softmax in fp32 registers (exp2
//   domain, the scale fused into the exponent; O rescaled only when a row's maximum grows by more
//   than kRescaleSlack), P packed to 16-bit registers, O (64 x D) += P V as 8 wgmma steps with P from
//   registers and V read MN-major. Intra-warpgroup pipelining (FlashAttention-3): S of tile j + 1 and
//   P V of tile j are issued back to back, and tile j + 1's softmax runs while P V of tile j is on the
//   tensor cores; a K stage is released when its S completes, a V stage when its P V does.
//   setmaxnreg moves registers from the producer (72) to the consumers (216).
//   Rows of a tile with no selected key produce 0.
// Split tiles: a tile of at most 64 rows (the last tile of a cluster) would leave warpgroup 2 idle.
//   Both consumers then take its rows, each with its 64-key half of every K/V tile (S 64 x 64, 4 P V
//   steps), and warpgroup 1 merges warpgroup 2's softmax state (row maxima, row sums, O), handed
//   over through the free K stages, into its own before the store. At the video shapes these tiles
//   carry about a fifth of the tiles' work (the benchmark logs the padding of 128- and 64-row tiles).
// Pair tiles (tail_pairs.cu): given the tail pairing, a split tile may hold two clusters' tails over the
//   union of their keys, listed as the keys only the first selects, those both select, then those only
//   the second selects; a row of the first cluster masks the keys from the end of the shared ones on, a row
//   of the second those before their start (only on the K/V tiles that reach past those bounds).
// Why: timed apart, the gathers and the softmax each added a quarter to a tile that all threads
//   walked in lockstep; with the gathers on their own warps and the consumers free to drift apart,
//   the tensor cores have work while either happens (docs/cuda-performance.md).
// Centroid compensation (compensation.cuh): per query cluster, one term merged at the store; per row,
//   the skipped clusters' centroids and mean values as extra K/V tiles after the exact ones, gathered
//   by cluster id from the centroid tensors, with a per-column score bias ln(n_b) / scale.
// Shared memory: Q 32 KiB + 2 stages x (K 32 KiB + V 32 KiB) + 3 token lists + 9 barriers + the
//   range list (8 x KC bytes) + with per-row compensation the centroid list and biases (8 x KC bytes);
//   1024-byte aligned panels (hopper.cuh). Traffic per tile: Q rows once, every selected K/V row
//   (and centroid row) once per 128 query rows, output once.
#include "attention_hopper.cuh"
#include "compensation.cuh"

// How far (log2) a tile's maximum may exceed a row's running maximum before the row is rescaled.
constexpr float kRescaleSlack = 8.f;

// setmaxnreg budgets: 128 x 72 + 256 x 216 = 384 x 168.
constexpr int kProducerRegisters = 72;
constexpr int kConsumerRegisters = 216;
static_assert(registers_fit(kProducerRegisters, kConsumerRegisters), "registers the block owns");
constexpr int kTileQueryBytes = kTileRows * kRowBytes;
constexpr int kTileKeyBytes = kTileKeys * kRowBytes;
static_assert(kSoftmaxStateFloats * kWarpgroupThreads * sizeof(float) <= kStages * kTileKeyBytes, "the state fits the K stages");

// The online softmax of one K/V tile (or of its 'Keys' = 64-key half) once its S = Q K^T has completed,
// in place: the scores become this warpgroup's probabilities P (exp2 domain). 'row_max' is the base of
// the exponents; 'row_sum' holds this thread's partial sums of rows g and g + 8 of its warp and is
// rescaled here. 'column_bias' (per-row compensation's centroid keys, in raw score units) is added to the
// scores of its columns; null for exact keys. Returns whether a row of this thread moved its base: O
// must then be multiplied by 'correction' once the products that added to it under the old base are done.
template <int Keys>
__device__ __forceinline__ bool softmax_tile(float (&s)[Keys / 2], int valid_keys, const float* column_bias, float scale_log2,
                                             float (&row_max)[2], float (&row_sum)[2], float (&correction)[2])
{
    constexpr int kScoreRegisters = Keys / 2;
    constexpr int kScoreColumnTiles = Keys / 8;
    const int lane = threadIdx.x % kWarpSize;

    // Only the last tile of a row's key sequence can be partial (or, in a split tile, hold none of a
    // consumer's keys). The scale is applied inside the exponent (one fused multiply-add per score), so
    // the maximum is taken on the raw scores.
    if (column_bias != nullptr && valid_keys > 0)
    {
#pragma unroll
        for (int i = 0; i < kScoreRegisters; ++i)
        {
            const int column = (i / 4) * 8 + 2 * (lane % 4) + (i & 1);
            s[i] += column_bias[min(column, valid_keys - 1)];   // an unlisted column reads a listed bias, then is masked
            mask_score(s[i], column, valid_keys);
        }
    }
    else if (valid_keys < Keys)
    {
#pragma unroll
        for (int i = 0; i < kScoreRegisters; ++i) mask_score(s[i], (i / 4) * 8 + 2 * (lane % 4) + (i & 1), valid_keys);
    }

    // Lazy rescaling: a row's running maximum (the base of its exponents) moves only when the tile's
    // maximum exceeds it by more than kRescaleSlack, so P stays below 2^kRescaleSlack (exact in bf16 and
    // fp16, whose relative rounding does not depend on the scale) and O is rescaled on few tiles; the
    // row sum shares the base, so the output is unchanged.
    bool rescale = false;
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float tile_max = negative_infinity();
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j) tile_max = fmaxf(tile_max, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
        const float candidate = tile_max * scale_log2;
        const bool grows = candidate > row_max[r] + kRescaleSlack;
        const float new_max = grows ? candidate : row_max[r];
        const float base = new_max == negative_infinity() ? 0.f : new_max;
        correction[r] = fast_exp2(row_max[r] - base);
        rescale |= grows;
        row_max[r] = new_max;
        row_sum[r] *= correction[r];
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j)
        {
            s[4 * j + 2 * r] = fast_exp2(fmaf(s[4 * j + 2 * r], scale_log2, -base));
            s[4 * j + 2 * r + 1] = fast_exp2(fmaf(s[4 * j + 2 * r + 1], scale_log2, -base));
            row_sum[r] += s[4 * j + 2 * r] + s[4 * j + 2 * r + 1];
        }
    }
    return rescale;
}

// P as the register A operand of the P V steps: k16 step 'step' is columns 16 step .. 16 step + 15 of
// S, i.e. its 8-column tiles 2 step and 2 step + 1, packed in pairs.
template <int Keys>
__device__ __forceinline__ void pack_probabilities(const float (&s)[Keys / 2], unsigned (&p)[Keys / kWgmmaK][4])
{
#pragma unroll
    for (int step = 0; step < Keys / kWgmmaK; ++step)
#pragma unroll
        for (int e = 0; e < 4; ++e) p[step][e] = pack_elements(s[8 * step + 2 * e], s[8 * step + 2 * e + 1]);
}

// Issues O += P V over a tile's 'Keys' keys at 'v_tile' (V read MN-major) as one commit group. Until it
// is waited for, neither O nor P may be touched.
template <int Keys>
__device__ __forceinline__ void issue_values(float (&o)[kOutputRegisters], unsigned (&p)[Keys / kWgmmaK][4], unsigned v_tile)
{
    fence_registers(o);
#pragma unroll
    for (int step = 0; step < Keys / kWgmmaK; ++step) fence_registers(p[step]);
    warpgroup_fence();
    const unsigned long long v_first = mn_major_descriptor(v_tile, kTileKeys, 0);
#pragma unroll
    for (int step = 0; step < Keys / kWgmmaK; ++step) wgmma_head_dim_registers(o, p[step], moved_descriptor(v_first, step * kWgmmaK * kPanelRowBytes));
    warpgroup_commit();
}

// Where a consumer finds its K/V tiles: the stages and their barriers, and which of a tile's keys are its own.
struct ConsumerTiles
{
    unsigned q_slice;          // this warpgroup's 64 query rows
    unsigned k_tiles, v_tiles; // stage 0 of K and of V
    unsigned key_full, value_full, key_empty, value_empty;   // [kStages] barriers each
    int first_key;             // 0, or a split tile's 64 c
    int key_tiles, exact_tiles, total_keys, centroid_keys;
    const float* centroid_biases;
    PairBounds pair;         // a pair tile's rows and the keys each sees

    __device__ __forceinline__ unsigned stage_barrier(unsigned row, int j) const { return row + (j % kStages) * kBarrierBytes; }
    __device__ __forceinline__ unsigned parity(int j) const { return (j / kStages) & 1; }
    __device__ __forceinline__ unsigned k_stage(int j) const { return k_tiles + (j % kStages) * kTileKeyBytes + first_key * kPanelRowBytes; }
    __device__ __forceinline__ unsigned v_stage(int j) const { return v_tiles + (j % kStages) * kTileKeyBytes + first_key * kPanelRowBytes; }
    // The exact keys' tiles, then the centroid keys' tiles (per-row compensation), each sequence from a fresh tile.
    __device__ __forceinline__ int valid_keys(int j) const
    {
        return (j >= exact_tiles ? centroid_keys - (j - exact_tiles) * kTileKeys : total_keys - j * kTileKeys) - first_key;
    }
    __device__ __forceinline__ const float* bias(int j) const
    {
        return j >= exact_tiles ? centroid_biases + (j - exact_tiles) * kTileKeys + first_key : nullptr;
    }
    // In a pair tile, masks the scores of tile j that a row's cluster did not select; a test per tile elsewhere.
    template <int Keys>
    __device__ __forceinline__ void mask_other_cluster(float (&s)[Keys / 2], int j) const { pair.mask<Keys>(s, j * kTileKeys + first_key); }
};

// A consumer's walk over its key tiles, FlashAttention-3's intra-warpgroup pipelining: S of tile j + 1
// and P V of tile j are issued back to back, and the softmax of tile j + 1 runs while P V of tile j is
// on the tensor cores. A K stage is released once its S has completed, a V stage once its P V has, so
// with two stages of each the producer still gathers a tile ahead.
template <int Keys>
__device__ __forceinline__ void consume_key_tiles(const ConsumerTiles& tiles, float scale_log2, float (&row_max)[2], float (&row_sum)[2],
                                                  float (&o)[kOutputRegisters])
{
    if (tiles.key_tiles == 0) return;
    float s[Keys / 2];
    unsigned p[Keys / kWgmmaK][4];
    float correction[2];
    const auto issue_scores = [&](int j)
    {
        barrier_wait(tiles.stage_barrier(tiles.key_full, j), tiles.parity(j));
        // The copies were made by other threads through the generic proxy; wgmma reads through the async one.
        fence_async_shared();
        wgmma_rows_by_rows<Keys>(s, tiles.q_slice, kTileRows, tiles.k_stage(j), kTileKeys);
    };
    issue_scores(0);
    warpgroup_wait<0>();
    fence_registers(s);
    barrier_arrive(tiles.stage_barrier(tiles.key_empty, 0));
    tiles.mask_other_cluster<Keys>(s, 0);
    softmax_tile<Keys>(s, tiles.valid_keys(0), tiles.bias(0), scale_log2, row_max, row_sum, correction);   // O is still 0
    pack_probabilities<Keys>(s, p);
    // Every tile but the last: the same two commit groups in the same order on every pass, so that ptxas can
    // tell which group each wait retires (with a conditional S it serialised every wgmma).
    const int last = tiles.key_tiles - 1;
    for (int j = 0; j < last; ++j)
    {
        issue_scores(j + 1);
        barrier_wait(tiles.stage_barrier(tiles.value_full, j), tiles.parity(j));
        fence_async_shared();
        issue_values<Keys>(o, p, tiles.v_stage(j));
        // S of tile j + 1 was committed before P V of tile j: waiting for all but the newest group waits for it alone.
        warpgroup_wait<1>();
        fence_registers(s);
        barrier_arrive(tiles.stage_barrier(tiles.key_empty, j + 1));
        tiles.mask_other_cluster<Keys>(s, j + 1);
        const bool rescale = softmax_tile<Keys>(s, tiles.valid_keys(j + 1), tiles.bias(j + 1), scale_log2, row_max, row_sum, correction);
        warpgroup_wait<0>();
        fence_registers(o);
        barrier_arrive(tiles.stage_barrier(tiles.value_empty, j));
        // A row that keeps its maximum has correction 1; the warp skips the rescale when none moved.
        if (__any_sync(kFullMask, rescale))
#pragma unroll
            for (int d = 0; d < kOutputColumnTiles; ++d)
#pragma unroll
                for (int r = 0; r < 2; ++r) { o[4 * d + 2 * r] *= correction[r]; o[4 * d + 2 * r + 1] *= correction[r]; }
        pack_probabilities<Keys>(s, p);
    }
    barrier_wait(tiles.stage_barrier(tiles.value_full, last), tiles.parity(last));
    fence_async_shared();
    issue_values<Keys>(o, p, tiles.v_stage(last));
    warpgroup_wait<0>();
    fence_registers(o);
    barrier_arrive(tiles.stage_barrier(tiles.value_empty, last));
}

extern "C" __global__ void __launch_bounds__(kTileThreads, 1)
svg2_sparse_attention_hopper(const element_t* __restrict__ q, const element_t* __restrict__ k, const element_t* __restrict__ v,
                             element_t* __restrict__ out, const int64* __restrict__ query_permutation, const int64* __restrict__ query_offsets,
                             const int64* __restrict__ key_permutation, const int* __restrict__ range_start, const int* __restrict__ range_end,
                             const int* __restrict__ range_count, const int* __restrict__ order, const int* __restrict__ tile_start,
                             int nq, int nk, int qc, int kc, float scale_log2,
                             const float* __restrict__ compensation_log2_weight, const float* __restrict__ compensation_value,
                             const int* __restrict__ centroid_list, const int* __restrict__ centroid_count,
                             const element_t* __restrict__ centroid_keys, const element_t* __restrict__ centroid_values,
                             const float* __restrict__ centroid_bias, int centroid_clusters, const int* __restrict__ partner,
                             const int* __restrict__ pair_slot, const int* __restrict__ pair_range_start, const int* __restrict__ pair_range_end,
                             const int* __restrict__ pair_range_count, const int* __restrict__ pair_bounds, int pair_capacity)
{
    extern __shared__ unsigned char attention_shared[];
    const int g = blockIdx.y, work = blockIdx.x;
    QueryTile query;
    if (!locate_query_tile(query, work, g, qc, kTileRows, order, tile_start, query_offsets, partner, pair_slot)) return;

    const unsigned q_tile = aligned_shared_base(attention_shared);
    const unsigned k_tiles = q_tile + kTileQueryBytes;
    const unsigned v_tiles = k_tiles + kStages * kTileKeyBytes;
    unsigned char* tiles_end = attention_shared + (q_tile - shared_address(attention_shared)) + kTileQueryBytes + 2 * kStages * kTileKeyBytes;
    const unsigned key_full = shared_address(tiles_end);              // [kStages]: K landed (producer copies)
    const unsigned value_full = key_full + kStages * kBarrierBytes;   // [kStages]: V landed
    const unsigned key_empty = value_full + kStages * kBarrierBytes;  // [kStages]: K read (consumer threads)
    const unsigned value_empty = key_empty + kStages * kBarrierBytes; // [kStages]: V read
    const unsigned query_full = value_empty + kStages * kBarrierBytes;
    int* tokens = (int*)(tiles_end + (4 * kStages + 1) * kBarrierBytes);   // [kTokenSlots][kTileKeys]
    int* starts = tokens + kTokenSlots * kTileKeys;           // [kc]
    int* ends = starts + kc;                                  // [kc]
    int* centroid_ids = ends + kc;                            // [kc], with per-row compensation only
    float* centroid_biases = (float*)(centroid_ids + kc);     // [kc], with per-row compensation only

    const int tid = threadIdx.x, lane = tid % kWarpSize;
    const int warpgroup = tid / kWarpgroupThreads, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    if (tid == 0)
    {
        barrier_init_row(key_full, 2 * kStages, kProducerThreads);     // K and V landed
        barrier_init_row(key_empty, 2 * kStages, kConsumerThreads);    // K and V read
        barrier_init(query_full, kProducerThreads);
        barrier_init_fence();
    }
    const int64 pair = (int64)g * qc + query.cluster;
    const bool paired = query.slot >= 0;
    const int64 pair_list = (int64)g * pair_capacity + query.slot;
    const int ranges = paired ? load_key_ranges(starts, ends, pair_list, kc, pair_range_start, pair_range_end, pair_range_count, kTileThreads)
                              : load_key_ranges(starts, ends, pair, kc, range_start, range_end, range_count, kTileThreads);
    const int centroid_keys_count = load_centroid_keys(centroid_ids, centroid_biases, pair, kc, centroid_list, centroid_count,
                                                       centroid_bias + (int64)g * centroid_clusters, kTileThreads);
    __syncthreads();
    const int total_keys = ranges > 0 ? ends[ranges - 1] : 0;
    // The exact keys' tiles, then the centroid keys' tiles (per-row compensation), each sequence from a fresh tile.
    const int exact_tiles = (total_keys + kTileKeys - 1) / kTileKeys;
    const int key_tiles = exact_tiles + (centroid_keys_count + kTileKeys - 1) / kTileKeys;
    const int64* group_query_permutation = query_permutation + (int64)g * nq;

    if (warpgroup == 0)
    {
        // Producer: Q once, then per K/V tile the tokens of its rows (one per thread) and the gathers
        // into the tile's stage once the consumers have released it. Copies arrive on the stage's
        // barrier as they land, so the producer never waits for its own copies.
        release_registers<kProducerRegisters>();
        const RowGather<kTileRows, kProducerThreads> query_gather;
        query_gather({q_tile}, {query_gather.chunk_base(q + (int64)g * nq * kHeadDim)},
                     [&](int row) { const int64 at = query.permuted_row(row); return at >= 0 ? (int)group_query_permutation[at] : -1; });
        barrier_arrive_after_copies(query_full);
        const RowGather<kTileKeys, kProducerThreads> gather;
        const char* k_chunks = gather.chunk_base(k + (int64)g * nk * kHeadDim);
        const char* v_chunks = gather.chunk_base(v + (int64)g * nk * kHeadDim);
        // Centroid rows are gathered by cluster id from the centroid tensors (only read when listed).
        const char* centroid_k_chunks = centroid_keys == nullptr ? k_chunks : gather.chunk_base(centroid_keys + (int64)g * centroid_clusters * kHeadDim);
        const char* centroid_v_chunks = centroid_values == nullptr ? v_chunks : gather.chunk_base(centroid_values + (int64)g * centroid_clusters * kHeadDim);
        const int64* group_key_permutation = key_permutation + (int64)g * nk;
        int cursor = 0;
        // K runs a tile ahead of V, as the consumers need them: tile j's K is gathered, then tile j - 1's V.
        for (int j = 0; j <= key_tiles; ++j)
        {
            if (j < key_tiles)
            {
                const bool centroid_tile = j >= exact_tiles;
                int* tile_tokens = tokens + (j % kTokenSlots) * kTileKeys;
                for (int row = tid; row < kTileKeys; row += kProducerThreads)
                {
                    const int centroid_row = (j - exact_tiles) * kTileKeys + row;
                    tile_tokens[row] = !centroid_tile ? key_token(j * kTileKeys + row, total_keys, starts, ends, cursor, group_key_permutation)
                                                      : centroid_row < centroid_keys_count ? centroid_ids[centroid_row] : -1;
                }
                named_barrier_sync(kProducerBarrier, kProducerThreads);
                const int stage = j % kStages;
                if (j >= kStages) barrier_wait(key_empty + stage * kBarrierBytes, (j / kStages - 1) & 1);
                gather({k_tiles + stage * kTileKeyBytes}, {centroid_tile ? centroid_k_chunks : k_chunks}, [&](int row) { return tile_tokens[row]; });
                barrier_arrive_after_copies(key_full + stage * kBarrierBytes);
            }
            const int t = j - 1;
            if (t >= 0)
            {
                const int stage = t % kStages;
                const int* tile_tokens = tokens + (t % kTokenSlots) * kTileKeys;
                if (t >= kStages) barrier_wait(value_empty + stage * kBarrierBytes, (t / kStages - 1) & 1);
                gather({v_tiles + stage * kTileKeyBytes}, {t >= exact_tiles ? centroid_v_chunks : v_chunks}, [&](int row) { return tile_tokens[row]; });
                barrier_arrive_after_copies(value_full + stage * kBarrierBytes);
            }
        }
        copy_async_wait<0>();
        return;
    }

    // Consumers: warpgroup c owns query rows 64 c .. 64 c + 63 of the tile, or, in a split tile, the
    // tile's rows with keys 64 c .. 64 c + 63 of every K/V tile. Nothing ties them to each other
    // until the end, so one's softmax overlaps the other's matrix products as their tiles drift apart.
    claim_registers<kConsumerRegisters>();
    const int consumer = warpgroup - 1;
    const bool split = query.total_rows() <= kWarpgroupRows;
    const unsigned q_slice = q_tile + (split ? 0 : consumer) * kWarpgroupRows * kPanelRowBytes;
    float o[kOutputRegisters];
#pragma unroll
    for (int i = 0; i < kOutputRegisters; ++i) o[i] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()}, row_sum[2] = {0.f, 0.f};
    barrier_wait(query_full, 0);
    const ConsumerTiles tiles{q_slice, k_tiles, v_tiles, key_full, value_full, key_empty, value_empty, split ? consumer * kHalfTileKeys : 0,
                              key_tiles, exact_tiles, total_keys, centroid_keys_count, centroid_biases,
                              PairBounds::of(pair_bounds, pair_list, query.slot, query.rows)};
    if (split) consume_key_tiles<kHalfTileKeys>(tiles, scale_log2, row_max, row_sum, o);
    else consume_key_tiles<kTileKeys>(tiles, scale_log2, row_max, row_sum, o);
    float* exchange = (float*)(attention_shared + (k_tiles - shared_address(attention_shared)));
    if (split && !merge_split_tile(exchange, consumer, row_max, row_sum, o)) return;

#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float sum = row_sum[r];
        sum += __shfl_xor_sync(kFullMask, sum, 1);
        sum += __shfl_xor_sync(kFullMask, sum, 2);
        const int row = consumer * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
        if (row >= query.total_rows()) continue;
        const int64 row_cluster = row < query.rows ? pair : (int64)g * qc + query.second_cluster;
        const ClusterCompensation compensation = cluster_compensation(compensation_log2_weight, compensation_value, row_cluster);
        const OutputFactors factors = output_factors(row_max[r], sum, compensation.log2_weight);
        const int64 token = group_query_permutation[query.permuted_row(row)];
        element_t* destination = out + ((int64)g * nq + token) * kHeadDim + 2 * (lane % 4);
#pragma unroll
        for (int d = 0; d < kOutputColumnTiles; ++d)
        {
            const float2 approximated = compensation_pair(compensation, d * 8 + 2 * (lane % 4));
            *(unsigned*)(destination + d * 8) = pack_elements(o[4 * d + 2 * r] * factors.exact + approximated.x * factors.approximated,
                                                              o[4 * d + 2 * r + 1] * factors.exact + approximated.y * factors.approximated);
        }
    }
}
