// Tail pairing for the Hopper attention's tile plan. A query cluster whose rows past its whole 128-row tiles fill
// less than a 64-row half (its "tail") ends with a split tile, computed over all 64 rows; two clusters whose
// tails fit one half together and that select keys in common share one tile instead, computed over the union of
// their keys with each row masked to its own cluster's. That saves the keys both select once per row of
// the half, for every such pair (Svg2.Evaluation.Benchmarks.TailPairing is the same rule on the CPU).
//
// svg2_tail_affinity: grid (QC, G), kPairThreads threads. Row i of affinity [G, QC, QC] int32: for each
//   cluster j whose tail fits beside i's, the keys both select (the sizes of the key clusters set in both
//   mask rows, from svg2_key_ranges' mask bits); 0 for every other j, on the diagonal and when i has no tail.
//   Block i keeps its row's bits and the key cluster sizes in shared memory; each thread takes columns j,
//   ANDs j's bits word by word (ceil(KC / 32) words read from L2) and adds the sizes of the common bits.
// svg2_pair_tails: grid (G), kMatchThreads threads. The greedy matching by affinity, in rounds: every
//   cluster without a partner proposes to the one of highest affinity > 0 among those without (ties: the
//   lower id), and mutual proposals pair. The best pair left is always mutual, so each round with a proposal
//   pairs at least once, and with that strict order on pairs the rounds end with the greedy matching (the
//   pairs taken in order of affinity, then of their lower, then higher cluster). A warp scans a cluster's
//   affinity row (coalesced) per round. Writes partner [G, QC] (-1 without) and, for the lower cluster of
//   each pair, its slot [G, QC] in the pair range lists (pairs numbered in the order of their lower cluster).
// svg2_pair_ranges: grid (QC, G), kPairThreads threads. For the pair whose lower cluster is i: the range list
//   of the union of both clusters' key clusters in three segments (those only i selects, those both select,
//   those only the other selects), so that each row's keys are one interval of the virtual key sequence, and
//   the segments' bounds [G, slot, 2]: where the shared keys begin and end.
#include "common.cuh"
#include "key_ranges.cuh"

#ifndef SVG2_TAIL_PAIRS_THREADS
#error "SVG2_TAIL_PAIRS_THREADS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_TAIL_PAIRS_MATCH_THREADS
#error "SVG2_TAIL_PAIRS_MATCH_THREADS must be defined (SparseAttentionTraits)"
#endif
#ifndef SVG2_TAIL_PAIRS_HALF_ROWS
#error "SVG2_TAIL_PAIRS_HALF_ROWS must be defined (SparseAttentionTraits)"
#endif

constexpr int kPairThreads = SVG2_TAIL_PAIRS_THREADS;
constexpr int kMatchThreads = SVG2_TAIL_PAIRS_MATCH_THREADS;
constexpr int kMatchWarps = kMatchThreads / kWarpSize;
constexpr int kHalfRows = SVG2_TAIL_PAIRS_HALF_ROWS;   // rows of a consumer warpgroup, the unit a tail fills

// A cluster's tail where its last tile is a split tile already (rows past its whole tiles at most a half): a longer
// remainder would become a split tile and a pair tile, and split tiles run below whole tiles' rate, so it keeps its
// one tile. 0 when the cluster has no such tail.
__device__ __forceinline__ int tail_rows(const int64* offsets, int cluster)
{
    const int64 rows = offsets[cluster + 1] - offsets[cluster];
    return rows % (2 * kHalfRows) < kHalfRows ? (int)(rows % kHalfRows) : 0;
}

extern "C" __global__ void __launch_bounds__(kPairThreads)
svg2_tail_affinity(const unsigned* __restrict__ mask_bits, const int64* __restrict__ query_offsets, const int64* __restrict__ key_offsets,
                   int* __restrict__ affinity, int qc, int kc)
{
    extern __shared__ int affinity_shared[];
    const int words = (kc + kWarpSize - 1) / kWarpSize;
    int* sizes = affinity_shared;                          // [kc]
    unsigned* own_bits = (unsigned*)(sizes + kc);          // [words]
    const int i = blockIdx.x, g = blockIdx.y;
    const int64* offsets = query_offsets + (int64)g * (qc + 1);
    const int64* keys = key_offsets + (int64)g * (kc + 1);
    const unsigned* group_bits = mask_bits + (int64)g * qc * words;
    int* row = affinity + ((int64)g * qc + i) * qc;
    const int tail = tail_rows(offsets, i);
    for (int b = threadIdx.x; b < kc; b += kPairThreads) sizes[b] = (int)(keys[b + 1] - keys[b]);
    for (int w = threadIdx.x; w < words; w += kPairThreads) own_bits[w] = group_bits[(int64)i * words + w];
    __syncthreads();
    for (int j = threadIdx.x; j < qc; j += kPairThreads)
    {
        const int other_tail = tail_rows(offsets, j);
        int shared_keys = 0;
        if (tail > 0 && other_tail > 0 && tail + other_tail <= kHalfRows && j != i)
            for (int w = 0; w < words; ++w)
                for (unsigned common = own_bits[w] & group_bits[(int64)j * words + w]; common != 0; common &= common - 1)
                    shared_keys += sizes[w * kWarpSize + __ffs(common) - 1];
        row[j] = shared_keys;
    }
}

extern "C" __global__ void __launch_bounds__(kMatchThreads)
svg2_pair_tails(const int* __restrict__ affinity, int* __restrict__ partner, int* __restrict__ pair_slot, int qc)
{
    extern __shared__ int match_shared[];
    int* partners = match_shared;          // [qc]
    int* proposals = partners + qc;        // [qc]
    const int g = blockIdx.x, lane = threadIdx.x % kWarpSize, warp = threadIdx.x / kWarpSize;
    const int* group_affinity = affinity + (int64)g * qc * qc;
    for (int c = threadIdx.x; c < qc; c += kMatchThreads) partners[c] = -1;
    for (;;)
    {
        __syncthreads();
        for (int c = warp; c < qc; c += kMatchWarps)
        {
            int best = 0, choice = -1;
            if (partners[c] < 0)
                for (int j = lane; j < qc; j += kWarpSize)
                {
                    const int value = group_affinity[(int64)c * qc + j];
                    if (value > best && partners[j] < 0) best = value, choice = j;   // a lane's columns ascend: its first best
                }
#pragma unroll
            for (int offset = kWarpSize / 2; offset > 0; offset /= 2)
            {
                const int other_best = __shfl_xor_sync(kFullMask, best, offset), other_choice = __shfl_xor_sync(kFullMask, choice, offset);
                if (other_best > best || (other_best == best && other_best > 0 && other_choice < choice)) best = other_best, choice = other_choice;
            }
            if (lane == 0) proposals[c] = choice;
        }
        __syncthreads();
        bool proposed = false;
        for (int c = threadIdx.x; c < qc; c += kMatchThreads)
        {
            const int choice = proposals[c];
            if (choice < 0) continue;
            proposed = true;
            if (proposals[choice] == c) partners[c] = choice;
        }
        if (!__syncthreads_or(proposed)) break;
    }
    // Slots in the order of the pairs' lower clusters; proposals is free for the scan.
    for (int c = threadIdx.x; c < qc; c += kMatchThreads) proposals[c] = partners[c] > c ? 1 : 0;
    __syncthreads();
    if (threadIdx.x < kWarpSize) warp_exclusive_scan_in_place(proposals, qc);
    __syncthreads();
    for (int c = threadIdx.x; c < qc; c += kMatchThreads)
    {
        partner[(int64)g * qc + c] = partners[c];
        pair_slot[(int64)g * qc + c] = partners[c] > c ? proposals[c] : -1;
    }
}

extern "C" __global__ void __launch_bounds__(kPairThreads)
svg2_pair_ranges(const unsigned char* __restrict__ mask, const int64* __restrict__ key_offsets, const int* __restrict__ partner,
                 const int* __restrict__ pair_slot, int* __restrict__ range_start, int* __restrict__ range_end, int* __restrict__ range_count,
                 int* __restrict__ bounds, int qc, int kc, int pair_capacity)
{
    __shared__ int range_prefix[kPairThreads];
    __shared__ int key_prefix[kPairThreads];
    __shared__ int totals[2];
    const int i = blockIdx.x, g = blockIdx.y;
    const int other = partner[(int64)g * qc + i];
    if (other <= i) return;   // no pair, or i is its higher cluster
    const int64 slot = (int64)g * pair_capacity + pair_slot[(int64)g * qc + i];
    const unsigned char* first = mask + ((int64)g * qc + i) * kc;
    const unsigned char* second = mask + ((int64)g * qc + other) * kc;
    const int64* offsets = key_offsets + (int64)g * (kc + 1);
    int* starts = range_start + slot * kc;
    int* ends = range_end + slot * kc;
    const int2 only_first = append_key_ranges<kPairThreads>([&](int j) { return first[j] && !second[j]; }, offsets, kc, starts, ends, 0, 0,
                                                            range_prefix, key_prefix, totals);
    __syncthreads();
    const int2 both = append_key_ranges<kPairThreads>([&](int j) { return first[j] && second[j]; }, offsets, kc, starts, ends, only_first.x,
                                                      only_first.y, range_prefix, key_prefix, totals);
    __syncthreads();
    const int2 only_second = append_key_ranges<kPairThreads>([&](int j) { return !first[j] && second[j]; }, offsets, kc, starts, ends,
                                                             only_first.x + both.x, only_first.y + both.y, range_prefix, key_prefix, totals);
    if (threadIdx.x == 0)
    {
        range_count[slot] = only_first.x + both.x + only_second.x;
        bounds[2 * slot] = only_first.y;
        bounds[2 * slot + 1] = only_first.y + both.y;
    }
}
