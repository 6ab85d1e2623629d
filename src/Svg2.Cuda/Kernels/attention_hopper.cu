// Variable-block sparse attention for Hopper (sm_90a): the same work and the same fused
// permutations as attention.cu, with warpgroup MMA (wgmma) instead of mma.sync.
//
// svg2_sparse_attention_hopper: grid (ceil(Nq / 128) + QC, G) = the maximum tile count of the plan
//   built with 128 rows per tile; 2 warpgroups (256 threads), one block per multiprocessor.
//   Warpgroup w owns query rows 64 w .. 64 w + 63 of the tile. A tile keeps its query-cluster id and
//   walks the concatenation of the cluster's selected key ranges as one virtual K/V sequence in
//   160-row tiles; half the threads of each warpgroup map one row each through the forward range
//   cursor and the key permutation, and every thread gathers its chunks of the tile with cp.async
//   (two stages, the next tile loads while this one computes). Per K/V tile and warpgroup:
//   S (64 x 160) = Q K^T as 8 (D 128) wgmma k16 steps with both operands in shared memory, online
//   softmax in fp32 registers (exp2 domain, the scale fused into the exponent), P packed to 16-bit
//   registers in place, O (64 x D) += P V as 10 wgmma steps with P from registers and V read MN-major
//   from the same tile layout. Rows of a tile with no selected key produce 0; a warpgroup whose 64
//   rows are all past the cluster's end skips the MMAs.
// Tile sizes: 160 keys rather than 128 spread each tile's fixed costs (barrier, row maxima, rescaling
//   O) over 25% more work; S then takes 80 of the 223 registers (D 128), and n160 fits the two stages
//   in shared memory. Shared memory: Q 32 KiB + 2 stages x (K 40 KiB + V 40 KiB) + the range list
//   (8 x KC bytes) + token lists; 1024-byte aligned panels (hopper.cuh). Traffic per tile: Q rows
//   once, every selected K/V row once per 128 query rows (twice the reuse of attention.cu's 64-row
//   tiles), output once.
#include "hopper.cuh"
#include "key_ranges.cuh"

constexpr int kTileWarpgroups = 2;
constexpr int kTileThreads = kTileWarpgroups * kWarpgroupThreads;
constexpr int kTileRows = kTileWarpgroups * kWarpgroupRows;
constexpr int kTileKeys = 160;                               // N of S: one wgmma n160 per k step
constexpr int kStages = 2;
constexpr int kScoreRegisters = kTileKeys / 2;               // 64 x kTileKeys fp32 over 128 threads
constexpr int kOutputRegisters = kHeadDim / 2;
constexpr int kScoreColumnTiles = kTileKeys / 8;
constexpr int kOutputColumnTiles = kHeadDim / 8;
constexpr int kPvSteps = kTileKeys / kWgmmaK;
constexpr int kTileQueryBytes = kTileRows * kRowBytes;
constexpr int kTileKeyBytes = kTileKeys * kRowBytes;
constexpr int kTokenRowsPerWarpgroup = kTileKeys / kTileWarpgroups;
static_assert(kTokenRowsPerWarpgroup <= kWarpgroupThreads, "one thread per key row of a tile computes its token");

// The rest of one K/V tile once S = Q K^T has been issued into 's': the online softmax for this
// warpgroup's 64 rows and O += P V. 'row_max' is in the exp2 domain; 'row_sum' holds this thread's
// partial sums of rows g and g + 8 of its warp.
__device__ __forceinline__ void finish_tile_hopper(float (&s)[kScoreRegisters], unsigned v_tile, int valid_keys, float scale_log2,
                                                   float (&row_max)[2], float (&row_sum)[2], float (&o)[kOutputRegisters])
{
    const int lane = threadIdx.x % kWarpSize;
    warpgroup_wait<0>();
    fence_registers(s);

    // Only the last tile of a row's key sequence can be partial. The scale is applied inside the
    // exponent (one fused multiply-add per score), so the maximum is taken on the raw scores.
    if (valid_keys < kTileKeys)
    {
#pragma unroll
        for (int i = 0; i < kScoreRegisters; ++i)
        {
            const int column = (i / 4) * 8 + 2 * (lane % 4) + (i & 1);
            if (column >= valid_keys) s[i] = negative_infinity();
        }
    }

#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float tile_max = negative_infinity();
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j) tile_max = fmaxf(tile_max, fmaxf(s[4 * j + 2 * r], s[4 * j + 2 * r + 1]));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 1));
        tile_max = fmaxf(tile_max, __shfl_xor_sync(kFullMask, tile_max, 2));
        const float new_max = fmaxf(row_max[r], tile_max * scale_log2);
        const float base = new_max == negative_infinity() ? 0.f : new_max;
        const float correction = fast_exp2(row_max[r] - base);
        row_max[r] = new_max;
        row_sum[r] *= correction;
#pragma unroll
        for (int d = 0; d < kOutputColumnTiles; ++d) { o[4 * d + 2 * r] *= correction; o[4 * d + 2 * r + 1] *= correction; }
#pragma unroll
        for (int j = 0; j < kScoreColumnTiles; ++j)
        {
            s[4 * j + 2 * r] = fast_exp2(fmaf(s[4 * j + 2 * r], scale_log2, -base));
            s[4 * j + 2 * r + 1] = fast_exp2(fmaf(s[4 * j + 2 * r + 1], scale_log2, -base));
            row_sum[r] += s[4 * j + 2 * r] + s[4 * j + 2 * r + 1];
        }
    }

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
#pragma unroll
    for (int step = 0; step < kPvSteps; ++step) wgmma_head_dim_registers(o, p[step], mn_major_descriptor(v_tile, kTileKeys, step));
    warpgroup_commit();
    warpgroup_wait<0>();
    fence_registers(o);
}

extern "C" __global__ void __launch_bounds__(kTileThreads, 1)
svg2_sparse_attention_hopper(const element_t* __restrict__ q, const element_t* __restrict__ k, const element_t* __restrict__ v,
                             element_t* __restrict__ out, const int64* __restrict__ query_permutation, const int64* __restrict__ query_offsets,
                             const int64* __restrict__ key_permutation, const int* __restrict__ range_start, const int* __restrict__ range_end,
                             const int* __restrict__ range_count, const int* __restrict__ order, const int* __restrict__ tile_start,
                             int nq, int nk, int qc, int kc, float scale_log2)
{
    extern __shared__ unsigned char attention_shared[];
    const int g = blockIdx.y, work = blockIdx.x;
    QueryTile query;
    if (!locate_query_tile(query, work, g, qc, kTileRows, order, tile_start, query_offsets)) return;

    const unsigned q_tile = aligned_shared_base(attention_shared);
    const unsigned k_tiles = q_tile + kTileQueryBytes;
    const unsigned v_tiles = k_tiles + kStages * kTileKeyBytes;
    unsigned char* tiles_end = attention_shared + (q_tile - shared_address(attention_shared)) + kTileQueryBytes + 2 * kStages * kTileKeyBytes;
    int* tokens = (int*)tiles_end;                            // [kStages][kTileKeys]
    int* starts = tokens + kStages * kTileKeys;               // [kc]
    int* ends = starts + kc;                                  // [kc]

    const int tid = threadIdx.x, lane = tid % kWarpSize;
    const int warpgroup = tid / kWarpgroupThreads, warp_in_group = (tid % kWarpgroupThreads) / kWarpSize;
    const int64 pair = (int64)g * qc + query.cluster;
    const int ranges = load_key_ranges(starts, ends, pair, kc, range_start, range_end, range_count, kTileThreads);
    const int64* group_query_permutation = query_permutation + (int64)g * nq;
    const int64* group_key_permutation = key_permutation + (int64)g * nk;
    const RowGather<kTileRows, kTileThreads> query_gather;
    query_gather({q_tile}, {query_gather.chunk_base(q + (int64)g * nq * kHeadDim)},
           [&](int row) { return row < query.rows ? (int)group_query_permutation[query.begin + row] : -1; });
    copy_async_commit();
    __syncthreads();

    // The key rows whose tokens this thread looks up, split evenly over the warpgroups (-1: none).
    const int thread_in_group = tid % kWarpgroupThreads;
    const int token_row = thread_in_group < kTokenRowsPerWarpgroup ? warpgroup * kTokenRowsPerWarpgroup + thread_in_group : -1;
    const int total_keys = ranges > 0 ? ends[ranges - 1] : 0;
    const int key_tiles = (total_keys + kTileKeys - 1) / kTileKeys;
    const RowGather<kTileKeys, kTileThreads> gather;
    const char* k_chunks = gather.chunk_base(k + (int64)g * nk * kHeadDim);
    const char* v_chunks = gather.chunk_base(v + (int64)g * nk * kHeadDim);
    int cursor = 0;
    if (token_row >= 0) tokens[token_row] = key_token(token_row, total_keys, starts, ends, cursor, group_key_permutation);
    __syncthreads();
    if (key_tiles > 0)
        gather({k_tiles, v_tiles}, {k_chunks, v_chunks}, [&](int row) { return tokens[row]; });
    copy_async_commit();
    int pending = token_row >= 0 ? key_token(kTileKeys + token_row, total_keys, starts, ends, cursor, group_key_permutation) : -1;

    const bool active = warpgroup * kWarpgroupRows < query.rows;
    const unsigned q_slice = q_tile + warpgroup * kWarpgroupRows * kPanelRowBytes;
    float o[kOutputRegisters];
#pragma unroll
    for (int i = 0; i < kOutputRegisters; ++i) o[i] = 0.f;
    float row_max[2] = {negative_infinity(), negative_infinity()}, row_sum[2] = {0.f, 0.f};

    for (int j = 0; j < key_tiles; ++j)
    {
        const int current = j % kStages, next = (j + 1) % kStages;
        if (token_row >= 0) tokens[next * kTileKeys + token_row] = pending;
        // Tile j (and Q) has landed for this thread; the fence hands it to the async proxy, the barrier
        // to every thread, and it also tells that tile j - 1's buffers are no longer read.
        copy_async_wait<0>();
        fence_async_shared();
        __syncthreads();
        if (j + 1 < key_tiles)
        {
            const int* next_tokens = tokens + next * kTileKeys;
            gather({k_tiles + next * kTileKeyBytes, v_tiles + next * kTileKeyBytes}, {k_chunks, v_chunks},
                   [&](int row) { return next_tokens[row]; });
        }
        copy_async_commit();
        if (token_row >= 0) pending = key_token((j + 2) * kTileKeys + token_row, total_keys, starts, ends, cursor, group_key_permutation);
        if (active)
        {
            float scores[kScoreRegisters];
            wgmma_rows_by_rows<kTileKeys>(scores, q_slice, kTileRows, k_tiles + current * kTileKeyBytes);
            finish_tile_hopper(scores, v_tiles + current * kTileKeyBytes, total_keys - j * kTileKeys, scale_log2, row_max, row_sum, o);
        }
    }
    copy_async_wait<0>();   // a tile with no selected key never waited for its Q rows

#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        float sum = row_sum[r];
        sum += __shfl_xor_sync(kFullMask, sum, 1);
        sum += __shfl_xor_sync(kFullMask, sum, 2);
        const float inverse = sum > 0.f ? 1.f / sum : 0.f;
        const int row = warpgroup * kWarpgroupRows + warp_in_group * 16 + lane / 4 + r * 8;
        if (row >= query.rows) continue;
        const int64 token = group_query_permutation[query.begin + row];
        element_t* destination = out + ((int64)g * nq + token) * kHeadDim + 2 * (lane % 4);
#pragma unroll
        for (int d = 0; d < kOutputColumnTiles; ++d)
            *(unsigned*)(destination + d * 8) = pack_elements(o[4 * d + 2 * r] * inverse, o[4 * d + 2 * r + 1] * inverse);
    }
}
