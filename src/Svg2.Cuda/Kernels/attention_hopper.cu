// Variable-block sparse attention for Hopper (sm_90a): the same work and the same fused
// permutations as attention.cu, with warpgroup MMA (wgmma) instead of mma.sync.
//
// svg2_sparse_attention_hopper: grid (ceil(Nq / 128) + QC, G) = the maximum tile count of the plan
//   built with 128 rows per tile; 3 warpgroups (384 threads), one block per multiprocessor.
//   Work split (warp specialisation): warpgroup 0 is the producer. It gathers the tile's Q rows once,
//   then per K/V tile looks up the tokens of the tile's 128 rows of the cluster's virtual key sequence
//   (the concatenation of its selected key ranges, one row per thread through the forward range
//   cursor and the key permutation) and gathers the K and V rows with cp.async into a free stage.
//   Each copy arrives on the stage's "full" barrier when it lands, so the producer runs ahead
//   without waiting on its own copies, and it waits on the stage's "empty" barrier before reusing
//   it. Warpgroups 1 and 2 are consumers owning query rows 0-63 and 64-127: per K/V tile, S (64 x 128)
//   = Q K^T as 8 (D 128) wgmma k16 steps with both operands in shared memory, online softmax in
//   fp32 registers (exp2 domain, the scale fused into the exponent; O rescaled only when a row's
//   maximum grows by more than kRescaleSlack), P packed to 16-bit registers in place, O (64 x D) += P V
//   as 8 wgmma steps with P from registers and V read MN-major, then an arrival on "empty".
//   setmaxnreg moves registers from the producer (72) to the consumers (216).
//   Rows of a tile with no selected key produce 0.
// Split tiles: a tile of at most 64 rows (the last tile of a cluster) would leave warpgroup 2 idle.
//   Both consumers then take its rows, each with its 64-key half of every K/V tile (S 64 x 64, 4 P V
//   steps), and warpgroup 1 merges warpgroup 2's softmax state (row maxima, row sums, O), handed
//   over through the free K stages, into its own before the store. At the video shapes these tiles
//   carry about a fifth of the tiles' work (the benchmark logs the padding of 128- and 64-row tiles).
// Why: timed apart, the gathers and the softmax each added a quarter to a tile that all threads
//   walked in lockstep; with the gathers on their own warps and the consumers free to drift apart,
//   the tensor cores have work while either happens (docs/cuda-performance.md).
// Centroid compensation (compensation.cuh): per query cluster, one term merged at the store; per row,
//   the skipped clusters' centroids and mean values as extra K/V tiles after the exact ones, gathered
//   by cluster id from the centroid tensors, with a per-column score bias ln(n_b) / scale.
// Shared memory: Q 32 KiB + 2 stages x (K 32 KiB + V 32 KiB) + 2 token lists + 5 barriers + the
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

// The rest of one K/V tile (or of its 'Keys' = 64-key half at 'v_tile') once S = Q K^T has been
// issued into 's': the online softmax for this warpgroup's 64 rows and O += P V. 'row_max' is in the
// exp2 domain; 'row_sum' holds this thread's partial sums of rows g and g + 8 of its warp.
// 'column_bias' (per-row compensation's centroid keys, in raw score units) is added to the scores of
// its columns; null for exact keys.
template <int Keys>
__device__ __forceinline__ void finish_tile_hopper(float (&s)[Keys / 2], unsigned v_tile, int valid_keys, const float* column_bias, float scale_log2,
                                                   float (&row_max)[2], float (&row_sum)[2], float (&o)[kOutputRegisters])
{
    constexpr int kScoreRegisters = Keys / 2;
    constexpr int kScoreColumnTiles = Keys / 8;
    constexpr int kPvSteps = Keys / kWgmmaK;
    const int lane = threadIdx.x % kWarpSize;
    warpgroup_wait<0>();
    fence_registers(s);

    // Only the last tile of a row's key sequence can be partial. The scale is applied inside the
    // exponent (one fused multiply-add per score), so the maximum is taken on the raw scores.
    if (column_bias != nullptr)
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
    float correction[2];
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
    // A row that keeps its maximum has correction 1; the warp skips the rescale when none moved.
    if (__any_sync(kFullMask, rescale))
#pragma unroll
        for (int d = 0; d < kOutputColumnTiles; ++d)
#pragma unroll
            for (int r = 0; r < 2; ++r) { o[4 * d + 2 * r] *= correction[r]; o[4 * d + 2 * r + 1] *= correction[r]; }

    // P for k16 step 'step' is columns 16 step .. 16 step + 15 of S, i.e. its 8-column tiles 2 step and 2 step + 1.
    unsigned p[kPvSteps][4];
#pragma unroll
    for (int step = 0; step < kPvSteps; ++step)
#pragma unroll
        for (int e = 0; e < 4; ++e) p[step][e] = pack_elements(s[8 * step + 2 * e], s[8 * step + 2 * e + 1]);
    fence_registers(o);
#pragma unroll
    for (int step = 0; step < kPvSteps; ++step) fence_registers(p[step]);
    warpgroup_fence();
    const unsigned long long v_first = mn_major_descriptor(v_tile, kTileKeys, 0);
#pragma unroll
    for (int step = 0; step < kPvSteps; ++step) wgmma_head_dim_registers(o, p[step], moved_descriptor(v_first, step * kWgmmaK * kPanelRowBytes));
    warpgroup_commit();
    warpgroup_wait<0>();
    fence_registers(o);
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
                             const float* __restrict__ centroid_bias, int centroid_clusters)
{
    extern __shared__ unsigned char attention_shared[];
    const int g = blockIdx.y, work = blockIdx.x;
    QueryTile query;
    if (!locate_query_tile(query, work, g, qc, kTileRows, order, tile_start, query_offsets)) return;

    const unsigned q_tile = aligned_shared_base(attention_shared);
    const unsigned k_tiles = q_tile + kTileQueryBytes;
    const unsigned v_tiles = k_tiles + kStages * kTileKeyBytes;
    unsigned char* tiles_end = attention_shared + (q_tile - shared_address(attention_shared)) + kTileQueryBytes + 2 * kStages * kTileKeyBytes;
    const unsigned full = shared_address(tiles_end);          // [kStages]: tile landed (producer copies)
    const unsigned empty = full + kStages * kBarrierBytes;    // [kStages]: tile read (consumer threads)
    const unsigned query_full = empty + kStages * kBarrierBytes;
    int* tokens = (int*)(tiles_end + (2 * kStages + 1) * kBarrierBytes);   // [kTokenSlots][kTileKeys]
    int* starts = tokens + kTokenSlots * kTileKeys;           // [kc]
    int* ends = starts + kc;                                  // [kc]
    int* centroid_ids = ends + kc;                            // [kc], with per-row compensation only
    float* centroid_biases = (float*)(centroid_ids + kc);     // [kc], with per-row compensation only

    const int tid = threadIdx.x, lane = tid % kWarpSize;
    const int warpgroup = tid / kWarpgroupThreads, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    if (tid == 0)
    {
        barrier_init_row(full, kStages, kProducerThreads);
        barrier_init_row(empty, kStages, kConsumerThreads);
        barrier_init(query_full, kProducerThreads);
        barrier_init_fence();
    }
    const int64 pair = (int64)g * qc + query.cluster;
    const int ranges = load_key_ranges(starts, ends, pair, kc, range_start, range_end, range_count, kTileThreads);
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
                     [&](int row) { return row < query.rows ? (int)group_query_permutation[query.begin + row] : -1; });
        barrier_arrive_after_copies(query_full);
        const RowGather<kTileKeys, kProducerThreads> gather;
        const char* k_chunks = gather.chunk_base(k + (int64)g * nk * kHeadDim);
        const char* v_chunks = gather.chunk_base(v + (int64)g * nk * kHeadDim);
        // Centroid rows are gathered by cluster id from the centroid tensors (only read when listed).
        const char* centroid_k_chunks = centroid_keys == nullptr ? k_chunks : gather.chunk_base(centroid_keys + (int64)g * centroid_clusters * kHeadDim);
        const char* centroid_v_chunks = centroid_values == nullptr ? v_chunks : gather.chunk_base(centroid_values + (int64)g * centroid_clusters * kHeadDim);
        const int64* group_key_permutation = key_permutation + (int64)g * nk;
        int cursor = 0;
        for (int j = 0; j < key_tiles; ++j)
        {
            const int stage = j % kStages;
            const bool centroid_tile = j >= exact_tiles;
            int* tile_tokens = tokens + (j % kTokenSlots) * kTileKeys;
            for (int row = tid; row < kTileKeys; row += kProducerThreads)
            {
                const int centroid_row = (j - exact_tiles) * kTileKeys + row;
                tile_tokens[row] = !centroid_tile ? key_token(j * kTileKeys + row, total_keys, starts, ends, cursor, group_key_permutation)
                                                  : centroid_row < centroid_keys_count ? centroid_ids[centroid_row] : -1;
            }
            named_barrier_sync(kProducerBarrier, kProducerThreads);
            if (j >= kStages) barrier_wait(empty + stage * kBarrierBytes, (j / kStages - 1) & 1);
            gather({k_tiles + stage * kTileKeyBytes, v_tiles + stage * kTileKeyBytes},
                   {centroid_tile ? centroid_k_chunks : k_chunks, centroid_tile ? centroid_v_chunks : v_chunks},
                   [&](int row) { return tile_tokens[row]; });
            barrier_arrive_after_copies(full + stage * kBarrierBytes);
        }
        copy_async_wait<0>();
        return;
    }

    // Consumers: warpgroup c owns query rows 64 c .. 64 c + 63 of the tile, or, in a split tile, the
    // tile's rows with keys 64 c .. 64 c + 63 of every K/V tile. Nothing ties them to each other
    // until the end, so one's softmax overlaps the other's matrix products as their tiles drift apart.
    claim_registers<kConsumerRegisters>();
    const int consumer = warpgroup - 1;
    const bool split = query.rows <= kWarpgroupRows;
    const unsigned q_slice = q_tile + (split ? 0 : consumer) * kWarpgroupRows * kPanelRowBytes;
    float o[kOutputRegisters];
#pragma unroll
    for (int i = 0; i < kOutputRegisters; ++i) o[i] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()}, row_sum[2] = {0.f, 0.f};
    barrier_wait(query_full, 0);
    for (int j = 0; j < key_tiles; ++j)
    {
        const int stage = j % kStages;
        barrier_wait(full + stage * kBarrierBytes, (j / kStages) & 1);
        // The copies were made by other threads through the generic proxy; wgmma reads through the async one.
        fence_async_shared();
        const unsigned k_stage = k_tiles + stage * kTileKeyBytes, v_stage = v_tiles + stage * kTileKeyBytes;
        const bool centroid_tile = j >= exact_tiles;
        const int valid_keys = centroid_tile ? centroid_keys_count - (j - exact_tiles) * kTileKeys : total_keys - j * kTileKeys;
        const float* bias = centroid_tile ? centroid_biases + (j - exact_tiles) * kTileKeys : nullptr;
        if (!split)
        {
            float scores[kTileKeys / 2];
            wgmma_rows_by_rows<kTileKeys>(scores, q_slice, kTileRows, k_stage, kTileKeys);
            finish_tile_hopper<kTileKeys>(scores, v_stage, valid_keys, bias, scale_log2, row_max, row_sum, o);
        }
        else if (valid_keys > consumer * kHalfTileKeys)
        {
            // Rows 64 c .. of both the K and the V panels: 8-row aligned, so the swizzle is unchanged.
            const unsigned half = consumer * kHalfTileKeys * kPanelRowBytes;
            float scores[kHalfTileKeys / 2];
            wgmma_rows_by_rows<kHalfTileKeys>(scores, q_slice, kTileRows, k_stage + half, kTileKeys);
            finish_tile_hopper<kHalfTileKeys>(scores, v_stage + half, valid_keys - consumer * kHalfTileKeys,
                                              bias == nullptr ? nullptr : bias + consumer * kHalfTileKeys, scale_log2, row_max, row_sum, o);
        }
        barrier_arrive(empty + stage * kBarrierBytes);
    }
    float* exchange = (float*)(attention_shared + (k_tiles - shared_address(attention_shared)));
    if (split && !merge_split_tile(exchange, consumer, row_max, row_sum, o)) return;

    const ClusterCompensation compensation = cluster_compensation(compensation_log2_weight, compensation_value, pair);
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float sum = row_sum[r];
        sum += __shfl_xor_sync(kFullMask, sum, 1);
        sum += __shfl_xor_sync(kFullMask, sum, 2);
        const OutputFactors factors = output_factors(row_max[r], sum, compensation.log2_weight);
        const int row = consumer * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
        if (row >= query.rows) continue;
        const int64 token = group_query_permutation[query.begin + row];
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
