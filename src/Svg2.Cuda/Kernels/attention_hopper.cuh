// The shape both warp-specialised Hopper attention kernels share (attention_hopper.cu in bf16/fp16,
// attention_hopper_fp8.cu in e4m3): one producer warpgroup that gathers, two consumer warpgroups of
// 64 query rows each, 128-key K/V tiles in kStages stages, and the hand-over of a split tile's state.
#pragma once
#include "hopper.cuh"
#include "key_ranges.cuh"

#ifndef SVG2_ATTENTION_HOPPER_CONSUMERS
#error "SVG2_ATTENTION_HOPPER_CONSUMERS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_HOPPER_TILE_KEYS
#error "SVG2_ATTENTION_HOPPER_TILE_KEYS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_HOPPER_STAGES
#error "SVG2_ATTENTION_HOPPER_STAGES must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_ATTENTION_HOPPER_TOKEN_SLOTS
#error "SVG2_ATTENTION_HOPPER_TOKEN_SLOTS must be defined (SparseAttentionTraits)"
#endif

constexpr int kConsumerWarpgroups = SVG2_ATTENTION_HOPPER_CONSUMERS;  // warpgroups 1 and 2: the matrix products and softmax
constexpr int kProducerThreads = kWarpgroupThreads;           // warpgroup 0: token lookups and gathers
constexpr int kConsumerThreads = kConsumerWarpgroups * kWarpgroupThreads;
constexpr int kTileThreads = kProducerThreads + kConsumerThreads;
// The block starts with the registers a thread gets at this block size (64 K / 384, rounded down to 8)
// and setmaxnreg can only redistribute those.
constexpr int kStartRegisters = kStartRegistersFor<kTileThreads>;
__host__ __device__ constexpr bool registers_fit(int producer, int consumer)
{
    return kProducerThreads * producer + kConsumerThreads * consumer <= kTileThreads * kStartRegisters;
}
constexpr int kTileRows = kConsumerWarpgroups * kWarpgroupRows;
constexpr int kTileKeys = SVG2_ATTENTION_HOPPER_TILE_KEYS;    // N of S: one wgmma n128 per k step
constexpr int kStages = SVG2_ATTENTION_HOPPER_STAGES;
constexpr int kTokenSlots = SVG2_ATTENTION_HOPPER_TOKEN_SLOTS; // the producer fills one while it gathers from the others
static_assert(kConsumerWarpgroups == 2, "a split tile hands warpgroup 2's state to warpgroup 1");
static_assert(kTileKeys == 128, "S is one wgmma n128 per k step, a split tile's half one n64");
constexpr int kHalfTileKeys = kTileKeys / 2;                // the keys of a consumer in a split tile
constexpr int kProducerBarrier = 1;                          // named barrier of the producer warpgroup
constexpr int kConsumerBarrier = 2;                          // named barrier of the two consumers
constexpr int kOutputRegisters = kHeadDim / 2;               // 64 x kHeadDim fp32 over 128 threads
constexpr int kOutputColumnTiles = kHeadDim / 8;
// A consumer's softmax state per thread: 2 row maxima, 2 partial row sums and O.
constexpr int kSoftmaxStateFloats = 4 + kOutputRegisters;

// Sets a score to -inf when its column is not below 'valid', in place. A select written in C++ gave
// the compiler a second home for all of a tile's scores, and it then copied every score between the
// two register sets on every tile (64 moves a thread), masked or not; a predicated move keeps one.
__device__ __forceinline__ void mask_score(float& score, int column, int valid)
{
    asm("{\n\t.reg .pred outside;\n\tsetp.ge.s32 outside, %1, %2;\n\t@outside mov.f32 %0, 0fFF800000;\n\t}"
        : "+f"(score) : "r"(column), "r"(valid));
}

// Sets a score to -inf unless 0 <= 'offset' < 'count' (one unsigned comparison), in place, as mask_score does.
__device__ __forceinline__ void mask_score_outside(float& score, int offset, int count)
{
    asm("{\n\t.reg .pred outside;\n\tsetp.hs.u32 outside, %1, %2;\n\t@outside mov.f32 %0, 0fFF800000;\n\t}"
        : "+f"(score) : "r"(offset), "r"(count));
}

// A bound past every virtual key (the largest int).
constexpr int kNoKeyBound = 0x7fffffff;

// Which keys a row of a pair tile (tail_pairs.cu) sees: rows below 'first_rows' are the first cluster's and see the
// keys before 'shared_end'; the second cluster's see those from 'shared_begin' on (the pair's key listing: the keys
// only the first selects, those both select, then those only the second selects). Outside pair tiles 0 and
// kNoKeyBound: every row sees every key.
struct PairBounds
{
    int first_rows, shared_begin, shared_end;

    // The bounds of this block's tile: a pair tile's from 'pair_bounds' [capacity][2] (slot >= 0), else none.
    static __device__ __forceinline__ PairBounds of(const int* pair_bounds, int64 pair_list, int slot, int first_rows)
    {
        return slot >= 0 ? PairBounds{first_rows, pair_bounds[2 * pair_list], pair_bounds[2 * pair_list + 1]} : PairBounds{first_rows, 0, kNoKeyBound};
    }

    // Masks the scores of a 'Keys'-column slice starting at virtual key 'first_column' that a row's cluster did not
    // select, in place; a test per tile where the slice lies within the shared keys (every tile outside pair tiles).
    template <int Keys>
    __device__ __forceinline__ void mask(float (&s)[Keys / 2], int first_column) const
    {
        if (first_column >= shared_begin && first_column + Keys <= shared_end) return;
        const int lane = threadIdx.x % kWarpSize, warp_row = (threadIdx.x % kWarpgroupThreads) / kWarpSize * 16 + lane / 4;
#pragma unroll
        for (int r = 0; r < 2; ++r)
        {
            const bool first = warp_row + 8 * r < first_rows;
            const int begin = first ? 0 : shared_begin, end = first ? shared_end : kNoKeyBound;
#pragma unroll
            for (int c = 0; c < Keys / 8; ++c)
#pragma unroll
                for (int e = 0; e < 2; ++e)
                    mask_score_outside(s[4 * c + 2 * r + e], first_column + c * 8 + 2 * (lane % 4) + e - begin, end - begin);
        }
    }
};

// The end of a split tile: consumer 1 (warpgroup 2) hands its softmax state to consumer 0 through
// 'exchange' (the K stages, free once both have finished their last tile), which merges it
// into its own. Returns false for the consumer whose part is done.
// 'Registers' is O's accumulator count: kOutputRegisters, or more where O carries extra columns (the FP8 kernel's row
// sums), merged as O is.
template <int Registers>
__device__ __forceinline__ bool merge_split_tile(float* exchange, int consumer, float (&row_max)[2], float (&row_sum)[2], float (&o)[Registers])
{
    const int t = threadIdx.x % kWarpgroupThreads;
    // Entry e of thread t at e x 128 + t: each store and load of a warp hits 32 banks once.
    auto entry = [&](int e) -> float& { return exchange[e * kWarpgroupThreads + t]; };
    named_barrier_sync(kConsumerBarrier, kConsumerThreads);
    if (consumer == 1)
    {
        // The stages were last written by cp.async and read by wgmma; order these stores after both.
        fence_async_shared();
#pragma unroll
        for (int r = 0; r < 2; ++r) entry(r) = row_max[r], entry(2 + r) = row_sum[r];
#pragma unroll
        for (int i = 0; i < Registers; ++i) entry(4 + i) = o[i];
    }
    named_barrier_sync(kConsumerBarrier, kConsumerThreads);
    if (consumer == 1) return false;
#pragma unroll
    for (int r = 0; r < 2; ++r)
    {
        const float other_max = entry(r), merged = fmaxf(row_max[r], other_max);
        const float base = merged == negative_infinity() ? 0.f : merged;
        const float mine = fast_exp2(row_max[r] - base), theirs = fast_exp2(other_max - base);
        row_max[r] = merged;
        row_sum[r] = row_sum[r] * mine + entry(2 + r) * theirs;
#pragma unroll
        for (int d = 0; d < Registers / 4; ++d)
#pragma unroll
            for (int e = 0; e < 2; ++e) o[4 * d + 2 * r + e] = o[4 * d + 2 * r + e] * mine + entry(4 + 4 * d + 2 * r + e) * theirs;
    }
    return true;
}

